"""Velocity, neighbour spoofing and slow ramps as input -> expected alert tables."""

from __future__ import annotations

import random

from streams.detect.engine import run_offline
from tests.unit.factories import cdr, policy

P = policy(trunks={"INTL-BICS-1": "international", "NAT-TIM-1": "national",
                   "MOB-1": "mobile"})


def opened(alerts: list, detector: str) -> list[str]:
    return [a.key for a in alerts if a.detector == detector and a.status == "open"]


def test_caller_id_seen_abroad_and_at_home_within_minutes() -> None:
    calls = [cdr(0, calling_number="3471234567", ingress_trunk="MOB-1"),
             cdr(60, calling_number="3471234567", ingress_trunk="MOB-1"),
             cdr(120, calling_number="3471234567", calling_roaming=True)]
    assert opened(run_offline(calls, P).alerts, "spoof_velocity") == []
    calls.append(cdr(180, calling_number="3471234567", calling_roaming=True))
    assert opened(run_offline(calls, P).alerts, "spoof_velocity") == ["+393471234567"]


def test_roamer_calling_home_only_from_abroad_is_fine() -> None:
    calls = [cdr(i * 300, calling_number="3471234567", calling_roaming=True) for i in range(4)]
    assert opened(run_offline(calls, P).alerts, "spoof_velocity") == []


def test_mobile_with_more_simultaneous_calls_than_a_handset_holds() -> None:
    calls = [cdr(i * 5, calling_number="3471234567", ingress_trunk="MOB-1", duration_s=600,
                 called_number=f"33312345{i:02d}") for i in range(5)]
    assert opened(run_offline(calls[:4], P).alerts, "spoof_velocity") == []
    assert opened(run_offline(calls, P).alerts, "spoof_velocity") == ["+393471234567"]


def test_pbx_number_with_many_simultaneous_calls_is_a_call_centre_not_spoofing() -> None:
    calls = [cdr(i * 2, calling_number="0612345678", ingress_trunk="NAT-TIM-1", duration_s=300,
                 called_number=f"3331{i:06d}") for i in range(500)]
    alerts = run_offline(calls, P).alerts
    assert [a for a in alerts if a.detector.startswith("spoof_")] == []


def test_neighbour_spoofing_campaign_on_one_trunk() -> None:
    rng = random.Random(5)
    calls = []
    for i in range(15):
        callee = f"347{rng.randrange(10**7):07d}"
        calls.append(cdr(i * 60, calling_number=callee[:6] + f"{rng.randrange(10**4):04d}",
                         called_number=callee, ingress_trunk="NAT-TIM-1"))
    alerts = run_offline(calls, P).alerts
    assert opened(alerts, "spoof_neighbour") == ["trunk:NAT-TIM-1"]
    assert opened(run_offline(calls[:5], P).alerts, "spoof_neighbour") == []


def test_slow_ramp_is_caught_by_the_cusum_before_the_short_window_floor() -> None:
    rng = random.Random(9)
    calls, t = [], 0.0
    while t < 2 * 3600:
        rate_per_s = (4 + 236 * t / 7200) / 3600  # 4/h growing to 240/h over two hours
        t += rng.expovariate(rate_per_s)
        calls.append(cdr(t, calling_number=f"0022177155{rng.randrange(10**4):04d}",
                         called_number=f"3{rng.randrange(10**9):09d}"))
    alerts = run_offline(calls, P).alerts
    ramp = [a for a in alerts if a.detector == "burst_ramp" and a.status == "open"]
    short = [a for a in alerts if a.detector == "burst_range" and a.status == "open"]
    assert ramp and ramp[0].key == "+22177155"
    assert not short or ramp[0].detected_at < short[0].detected_at


def test_steady_moderate_traffic_from_a_range_is_not_a_ramp() -> None:
    rng = random.Random(2)
    calls = [cdr(i * 240.0, calling_number=f"0022177155{rng.randrange(10**4):04d}",
                 called_number=f"3{rng.randrange(10**9):09d}") for i in range(6 * 15)]
    assert opened(run_offline(calls, P).alerts, "burst_ramp") == []
