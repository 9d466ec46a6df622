"""Windowed statistics: input calls -> expected alert tables, lifecycle, batching, lateness."""

from __future__ import annotations

import random

import orjson
import pytest

from streams.detect.countmodel import nb_threshold
from streams.detect.engine import Engine, run_offline
from tests.unit.factories import cdr, policy

P = policy()


def burst(n: int, every_s: float = 1.0, start: float = 0, prefix: str = "0063917551",
          **fields: object) -> list:
    return [cdr(start + i * every_s, calling_number=f"{prefix}{i % 100:04d}",
                called_number=f"3{(i * 7919) % 10**9:09d}", **fields) for i in range(n)]


def table(alerts: list) -> list[tuple]:
    return [(a.detector, a.status, a.key, a.observed) for a in alerts]


def test_sudden_burst_from_unseen_range_opens_at_the_floor_then_updates_and_resolves() -> None:
    result = run_offline(burst(100, every_s=2.0), P)
    rows = [r for r in table(result.alerts) if r[0] == "burst_range"]
    assert rows == [
        ("burst_range", "open", "+6391755", 20),
        ("burst_range", "update", "+6391755", 100),
        ("burst_range", "resolved", "+6391755", 0),
    ]
    opened = next(a for a in result.alerts if a.detector == "burst_range")
    assert opened.detected_at.timestamp() - opened.window_start.timestamp() == 38.0
    assert len(opened.record_ids) == 20 and opened.baseline == 0.5
    assert "negative-binomial" in opened.explanation


def test_quiet_international_traffic_from_many_ranges_raises_nothing() -> None:
    rng = random.Random(3)
    calls = [cdr(i * 20.0, calling_number=f"+4479{rng.randrange(10**8):08d}",
                 called_number=f"3{rng.randrange(10**9):09d}") for i in range(2000)]
    windowed = [a for a in run_offline(calls, P).alerts if not a.detector.startswith("spoof_")]
    assert windowed == []


@pytest.mark.parametrize("lagging_watermark", [False, True])
def test_batched_and_one_by_one_folds_give_identical_alerts(lagging_watermark: bool) -> None:
    """With a lagging watermark (the worker's case) a batch's calls share one close bound."""
    rng = random.Random(11)
    calls = burst(300, every_s=1.5) + [
        cdr(rng.uniform(0, 900), calling_number=f"+4479{rng.randrange(10**8):08d}")
        for _ in range(300)]
    calls.sort(key=lambda e: e.start_time)
    engine = Engine(P)
    routed: dict[tuple[str, str], list] = {}
    for event in calls:
        for fam, key, item in engine.route(event).routed:
            routed.setdefault((fam, key), []).append(item)
    batched = []
    for (fam, key), items in routed.items():
        state = None
        for i in range(0, len(items), 37):  # odd batch size on purpose
            upto = (items[i - 1].ts if i else 0.0) if lagging_watermark else None
            state, alerts, _ = engine.apply(fam, key, state, items[i:i + 37], upto=upto)
            batched += alerts
        batched += engine.flush(fam, key, state)[1]
    single = run_offline(calls, P).alerts
    key = lambda a: (a.detector, a.key, a.status, a.window_start)  # noqa: E731
    assert sorted(batched, key=key) == sorted(single, key=key)


def test_state_survives_a_json_round_trip_like_a_changelog_table() -> None:
    engine = Engine(P)
    items = [r[2] for e in burst(60) for r in engine.route(e).routed if r[0] == "burst_range"]
    state, first, _ = engine.apply("burst_range", "+6391755", None, items[:30])
    restored = orjson.loads(orjson.dumps(state))
    _, a1, _ = engine.apply("burst_range", "+6391755", restored, items[30:])
    _, a2, _ = engine.apply("burst_range", "+6391755", state, items[30:])
    assert a1 == a2 and table(first) == [("burst_range", "open", "+6391755", 20)]


def test_late_calls_beyond_allowed_lateness_are_counted_not_added() -> None:
    calls = burst(30, every_s=20.0)  # 10 minutes of calls: windows 0 and 300 close
    late = cdr(5, calling_number="00639175519999", called_number="3000000001")
    result = run_offline([*calls, late], P)
    assert result.late >= 1


def test_campaign_hovering_at_threshold_is_one_incident_not_a_flapping_pair() -> None:
    # 22 calls, then 15 (above half the floor), then 22 again: one open, no resolve between.
    calls = burst(22, 10) + burst(15, 15, start=300) + burst(22, 10, start=600)
    rows = [r[1] for r in table(run_offline(calls, P).alerts) if r[0] == "burst_range"]
    assert rows == ["open", "update", "update", "update", "resolved"]


def test_learned_country_baseline_absorbs_steady_volume_and_flags_a_surge() -> None:
    warm = P.bursts.country_warmup_windows
    steady = [cdr(w * 300 + i * 9, calling_number=f"+4479{w:03d}{i:05d}",
                  called_number=f"3{w:03d}{i:06d}")
              for w in range(warm + 6) for i in range(30)]
    quiet = run_offline(steady, P).alerts
    assert [a for a in quiet if a.detector == "burst_country"] == []
    surge_at = (warm + 6) * 300
    surge = [cdr(surge_at + i, calling_number=f"+4479{i:08d}", called_number=f"3{i:09d}")
             for i in range(400)]
    loud = run_offline(steady + surge, P).alerts
    opened = [a for a in loud if a.detector == "burst_country" and a.status == "open"]
    assert len(opened) == 1 and opened[0].key == "+44" and opened[0].baseline > 10


@pytest.mark.parametrize(("duration", "answered", "expect"), [(1.0, False, True),
                                                             (60.0, True, False)])
def test_wangiri_needs_one_ring_calls(duration: float, answered: bool, expect: bool) -> None:
    calls = burst(40, every_s=5, duration_s=duration, answered=answered)
    fired = any(a.detector == "wangiri_range" for a in run_offline(calls, P).alerts)
    assert fired is expect


def test_fanout_of_one_number_and_bombarded_subscriber() -> None:
    fan = [cdr(i * 5, calling_number="00447911123456", called_number=f"3{i:09d}")
           for i in range(30)]
    bomb = [cdr(i * 20, calling_number=f"+1201555{i:04d}", called_number="3331112222")
            for i in range(10)]
    alerts = run_offline(fan + bomb, P).alerts
    opened = {(a.detector, a.key) for a in alerts if a.status == "open"}
    assert ("fanout_number", "+447911123456") in opened
    assert ("targeted_subscriber", "+393331112222") in opened


def test_spoof_campaign_of_many_calls_is_one_incident_with_updates() -> None:
    calls = [cdr(i * 3.0, calling_number="4010086", called_number=f"3{i:09d}")
             for i in range(2000)]  # 100 minutes
    rows = table([a for a in run_offline(calls, P).alerts if a.detector == "spoof_protected"])
    assert rows[0] == ("spoof_protected", "open", "+394010086", 1)
    assert [r[1] for r in rows] == ["open", "update", "update", "resolved"]
    assert sum(r[3] for r in rows if r[1] == "update") == 2000


def test_nb_threshold_grows_with_the_mean_and_is_above_it() -> None:
    limits = [nb_threshold(m, 5.0, 1e-6) for m in (0.5, 5, 50, 500)]
    assert limits == sorted(limits)
    assert all(t > m for t, m in zip(limits, (0.5, 5, 50, 500), strict=True))


@pytest.mark.parametrize(("ring_s", "cause", "expect"), [
    (2.0, 16, True),    # caller hung up after one ring: the wangiri trick
    (45.0, 16, False),  # rang for 45 s: a normal missed call
    (2.0, 17, False),   # busy: released by the callee's side
])
def test_wangiri_one_ring_is_judged_by_ringing_time_and_release_cause(
        ring_s: float, cause: int, expect: bool) -> None:
    from datetime import timedelta

    calls = [cdr(i * 5.0, calling_number=f"0021624257{i:03d}", called_number=f"3{i:09d}",
                 answered=False, duration_s=0, release_cause=cause) for i in range(40)]
    calls = [c.model_copy(update={"end_time": c.start_time + timedelta(seconds=ring_s)})
             for c in calls]
    fired = any(a.detector == "wangiri_range" for a in run_offline(calls, P).alerts)
    assert fired is expect
