"""The bare-digit carrier trap end to end: generated traffic, offline detection, three
policies. Read nationally the carrier's foreign callers look invalid and its burst is
missed (and the trunk is reported); declared e164 or auto, the burst is found."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streams.detect.calls import enrich
from streams.detect.engine import OfflineResult, run_offline
from streams.events import CallEvent
from streams.policy import Policy
from streams.settings import DEFAULT_POLICY
from streams.traffic import CampaignSpec, Traffic, TrafficConfig, generate_traffic
from streams.traffic.calls import CARRIER_TRUNK
from tests.unit.clirun import cdrwatch

BURSTS = {"burst_range", "burst_country"}


@pytest.fixture(scope="module")
def traffic() -> Traffic:
    return generate_traffic(TrafficConfig(
        home_region="IT", start=datetime(2026, 11, 20, 8, tzinfo=UTC), hours=1.5,
        calls_per_hour=300, seed=5,
        campaigns=[CampaignSpec(name="bare_digit_trunk", id="bare",
                                start_offset=timedelta(minutes=5),
                                params={"hours": 1.25, "burst_after_minutes": 40})]))


def _policy(fmt: str | None) -> Policy:
    data = tomllib.loads(DEFAULT_POLICY.read_text())
    data["trunks"][CARRIER_TRUNK] = "international"
    if fmt is not None:
        data["number_format"]["trunks"] = {CARRIER_TRUNK: fmt}
    return Policy.model_validate(data)


def _events(traffic: Traffic) -> list[CallEvent]:
    return [CallEvent.model_validate(r) for r in traffic.records]


def _burst_alerts(result: OfflineResult, prefix: str) -> list[str]:
    return [a.key for a in result.alerts if a.detector in BURSTS and a.key.startswith(prefix)]


def test_the_trap_makes_bare_digits_on_its_own_trunk_only(traffic: Traffic) -> None:
    carrier = [r for r in traffic.records if r["ingress_trunk"] == CARRIER_TRUNK]
    campaign = [lab for lab in traffic.labels if lab["campaign"] == "bare"]
    assert len(campaign) == traffic.campaigns[0]["calls"] == 300
    assert len(carrier) > 500
    assert all(r["calling_number"].isdigit() for r in carrier)


def test_read_nationally_the_carriers_callers_are_invalid_and_the_burst_is_missed(
        traffic: Traffic) -> None:
    policy = _policy(None)
    calls = [enrich(e, policy) for e in _events(traffic) if e.ingress_trunk == CARRIER_TRUNK]
    assert sum(not c.caller.valid for c in calls) / len(calls) > 0.9
    assert not any(c.foreign_caller for c in calls)
    result = run_offline(_events(traffic), policy)
    prefix = traffic.campaigns[0]["parameters"]["prefix"]
    assert _burst_alerts(result, "+63") == []
    assert result.verdicts["spoof_invalid_caller"] > 300
    [misfit] = result.misdeclared
    assert (misfit.trunk, misfit.declared, misfit.better) == (CARRIER_TRUNK, "national", "e164")
    assert prefix.startswith("+63")


@pytest.mark.parametrize("fmt", ["e164", "auto"])
def test_declared_e164_or_auto_the_burst_families_see_the_burst(traffic: Traffic,
                                                               fmt: str) -> None:
    policy = _policy(fmt)
    calls = [enrich(e, policy) for e in _events(traffic) if e.ingress_trunk == CARRIER_TRUNK]
    assert sum(c.foreign_caller and c.caller.valid for c in calls) / len(calls) > 0.95
    result = run_offline(_events(traffic), policy)
    prefix = traffic.campaigns[0]["parameters"]["prefix"]
    assert prefix in _burst_alerts(result, prefix)
    assert result.misdeclared == []


def test_offline_detect_names_the_trunk_and_the_better_format(traffic: Traffic,
                                                              tmp_path: Path) -> None:
    events = tmp_path / "day.jsonl"
    events.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in traffic.records))
    proc = cdrwatch("detect", str(events), timeout=120)
    assert proc.returncode == 0, proc.stderr
    [line] = [s for s in proc.stderr.splitlines() if "[number_format]" in s]
    assert f"trunk '{CARRIER_TRUNK}' is declared national" in line
    assert f'"{CARRIER_TRUNK}" = "e164"' in line
