"""Warm start: a baseline learned from a recorded day lets the next day's first campaign alert."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from streams.detect.baseline import BaselineError, build, read, seeds, write
from streams.detect.engine import run_offline
from streams.detect.families import build_families
from streams.detect.state import load_state
from streams.events import CallEvent
from tests.unit.clirun import cdrwatch, one_error_line
from tests.unit.factories import cdr, policy

POLICY = policy()
DAY = 86400


def _tunisian(rng: random.Random, at: float, tag: str) -> CallEvent:
    """A call from a random Tunisian mobile: every range of the country, no range repeated
    often enough to alert on its own."""
    caller = f"+2162{rng.randrange(10**6, 10**7)}"
    return cdr(at, record_id=f"{tag}-{at:.1f}-{caller}", calling_number=caller,
               called_number=f"333{rng.randrange(10**6, 10**7)}")


def recorded_day(seed: int = 1) -> list[CallEvent]:
    """Eight hours of a steady trickle from Tunisia: two calls every five minutes."""
    rng = random.Random(seed)
    return [_tunisian(rng, t, "d1") for t in range(0, 8 * 3600, 150)]


def next_morning(seed: int = 2) -> list[CallEvent]:
    """The next day: the same trickle, then 60 calls in four minutes from rotating caller IDs
    (only the country's volume rises), ten minutes after the day starts."""
    rng = random.Random(seed)
    start = DAY
    calls = [_tunisian(rng, start + t, "d2") for t in range(0, 3600, 150)]
    calls += [_tunisian(rng, start + 600 + i * 4, "camp") for i in range(60)]
    return sorted(calls, key=lambda c: c.start_time)


def _country_alerts(events: list[CallEvent], warm: dict | None) -> list[str]:
    result = run_offline(events, POLICY, seeds=warm)
    return [a.status for a in result.alerts if a.detector == "burst_country"]


def _learned(events: list[CallEvent]) -> dict:
    result = run_offline(events, POLICY)
    assert result.states is not None
    baseline = build(result.states.states(), result.states.families, "IT",
                     result.states.last_ts())
    found, notes = seeds(baseline, build_families(POLICY), "IT")
    assert notes == []
    return found


def test_a_warm_start_alerts_on_the_first_campaign_of_the_next_day_and_a_cold_one_cannot() -> None:
    cold = _country_alerts(next_morning(), None)
    warm = _country_alerts(next_morning(), _learned(recorded_day()))
    assert "open" not in cold  # a country never seen only learns for its first hour
    assert warm[:1] == ["open"]


def test_a_baseline_keeps_what_was_learned_and_nothing_of_the_run() -> None:
    found = _learned(recorded_day())
    assert ("burst_country", "+216") in found
    assert {f for f, _ in found} <= {"burst_range", "burst_country", "burst_ramp"}
    result = run_offline(recorded_day(), POLICY)
    assert result.states is not None
    baseline = build(result.states.states(), result.states.families, "IT", 0.0)
    for _, _, raw in baseline.states:
        state = load_state(raw)
        assert state.windows == {} and state.inc is None and state.hwm == {}
        assert state.closed is None and state.learned.at is not None  # it learned windows


def test_a_file_roundtrips_and_a_foreign_or_mismatched_one_is_refused(tmp_path: Path) -> None:
    result = run_offline(recorded_day(), POLICY)
    assert result.states is not None
    baseline = build(result.states.states(), result.states.families, "IT", 1.0)
    path = tmp_path / "b.bin"
    write(baseline, path)
    assert read(path) == baseline
    other = policy(bursts={"window_s": 600})
    found, notes = seeds(baseline, build_families(other), "IT")
    assert not any(f == "burst_range" for f, _ in found)
    assert any("burst_range" in n and "600" in n for n in notes)
    assert seeds(baseline, build_families(POLICY), "CN")[0] == {}
    (tmp_path / "junk").write_bytes(b"not a baseline")
    with pytest.raises(BaselineError, match="is not a cdrwatch baseline"):
        read(tmp_path / "junk")


def test_the_commands_learn_and_start_from_a_baseline(tmp_path: Path) -> None:
    day1, day2 = tmp_path / "day1.jsonl", tmp_path / "day2.jsonl"
    day1.write_text("".join(c.model_dump_json() + "\n" for c in recorded_day()))
    day2.write_text("".join(c.model_dump_json() + "\n" for c in next_morning()))
    pol = tmp_path / "policy.toml"
    pol.write_text('home_country = "IT"\n[trunks]\n"INTL-BICS-1" = "international"\n')
    learned = cdrwatch("baseline", "learn", str(day1), "--out", str(tmp_path / "b"),
                       "--policy", str(pol))
    assert learned.returncode == 0, learned.stderr
    assert "burst_country 1" in learned.stdout
    warm = cdrwatch("detect", str(day2), "--policy", str(pol), "--baseline", str(tmp_path / "b"))
    cold = cdrwatch("detect", str(day2), "--policy", str(pol))
    assert "burst_country                open" in warm.stdout
    assert "burst_country                open" not in cold.stdout
    bad = cdrwatch("detect", str(day2), "--baseline", str(day1))
    assert bad.returncode == 2 and "is not a cdrwatch baseline" in one_error_line(bad)
    worker = cdrwatch("worker", "--baseline", str(day1))  # refused before Faust starts
    assert worker.returncode == 2 and "is not a cdrwatch baseline" in one_error_line(worker)

