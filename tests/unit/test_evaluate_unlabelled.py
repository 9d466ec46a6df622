"""`cdrwatch evaluate` on a recorded file without labels: incidents per dated day and key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson

from streams.detect.engine import run_offline
from streams.evaluation.unlabelled import incidents, summarise
from streams.events import Alert, CallEvent, alert_id
from streams.policy import load_policy
from streams.replay import read_messages
from streams.settings import DEFAULT_POLICY
from tests.unit.clirun import cdrwatch

DEMO = Path(__file__).resolve().parents[2] / "streams" / "fixtures" / "demo.jsonl"


def _alert(status: str, severity: str, start: datetime, key: str = "+63917") -> Alert:
    return Alert(alert_id=alert_id("burst_range", key, start), detector="burst_range",
                 severity=severity, score=0.5, status=status, key=key,  # type: ignore[arg-type]
                 window_start=start, window_end=start + timedelta(minutes=5),
                 detected_at=start, observed=30, explanation="x")


def test_an_incident_is_dated_in_the_operators_zone_with_its_worst_severity() -> None:
    late_evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 07:30 next day in Beijing
    lines = [_alert("open", "medium", late_evening), _alert("update", "critical", late_evening),
             _alert("resolved", "info", late_evening)]
    (utc,) = incidents(lines, "UTC")
    (beijing,) = incidents(lines, "Asia/Shanghai")
    assert (utc.day, beijing.day) == (date(2026, 11, 20), date(2026, 11, 21))
    assert (utc.severity, utc.resolved, utc.lines) == ("critical", True, 3)


def _shifted(days: int) -> list[CallEvent]:
    out = []
    for line in read_messages([DEMO]):
        for ev in line.events:
            out.append(ev.model_copy(update={
                "record_id": f"{ev.record_id}-d{days}",
                "start_time": ev.start_time + timedelta(days=days),
                "end_time": ev.end_time and ev.end_time + timedelta(days=days),
                "answer_time": ev.answer_time and ev.answer_time + timedelta(days=days)}))
    return out


def test_two_recorded_days_give_incidents_on_two_dates() -> None:
    policy = load_policy(DEFAULT_POLICY)
    rep = summarise(run_offline([*_shifted(0), *_shifted(1)], policy), policy, "two days")
    first = _shifted(0)[0].start_time.date()
    assert rep.days == [first, first + timedelta(days=1)]
    per_day = rep.per_day()
    assert sum(sum(c.values()) for c in per_day.values()) == len(rep.incidents)
    # the protected-number spoofing of the story recurs on the second day
    assert all(c["spoof_protected"] > 0 for c in per_day.values())
    assert rep.calls == 2 * len(_shifted(0))


def test_the_command_reports_a_file_without_labels_instead_of_refusing(tmp_path: Path) -> None:
    recorded = tmp_path / "recorded.jsonl"
    recorded.write_bytes(DEMO.read_bytes())  # no recorded.labels.jsonl beside it
    proc = cdrwatch("evaluate", "--events", str(recorded), "--json", str(tmp_path / "e.json"),
                    timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no labels" in proc.stdout and "incidents per day" in proc.stdout
    doc = orjson.loads((tmp_path / "e.json").read_bytes())
    assert doc["labelled"] is False and doc["incidents"] > 0
    day = next(iter(doc["per_day"]))
    assert date.fromisoformat(day) and sum(doc["per_day"][day].values()) == doc["incidents"]
    assert {k["detector"] for k in doc["top_keys"]} >= {"spoof_protected"}
