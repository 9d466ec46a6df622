"""`cdrwatch feedback`, `detect --feedback` and `hotlist export --feedback` as a user runs
them: the verdict file they share, what a false alarm takes back offline, and a user's
mistake as one line with exit code 2."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streams.events import Alert, AnalystFeedback, SubscriberWarning, WarningRetraction
from tests.unit.clirun import cdrwatch, one_error_line

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "burst_campaigns.jsonl"
FANOUT = "8dd70d94248eb1c0ddbd"  # fanout_number on +447512772130, 11:00 to 11:40
RAMP = "8281dced5660799363c2"  # burst_ramp on +4475127, its entry at 11:21
RANGE = "a3d87b96bac921444d17"  # burst_range on the same range
DECIDED = "2026-11-20T11:20:00Z"
RAMP_DECIDED = "2026-11-20T11:10:00Z"  # before its last update: the suppression drops that


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixture detected without and with three verdicts given by `cdrwatch feedback`."""
    d = tmp_path_factory.mktemp("feedback")
    verdicts = d / "feedback.jsonl"
    for argv in (["--alert", FANOUT, "--verdict", "false_alarm", "--at", DECIDED],
                 ["--alert", RAMP, "--verdict", "false_alarm", "--suppress-for", "PT15M",
                  "--at", RAMP_DECIDED, "--analyst", "ann", "--note", "a call centre"],
                 ["--alert", RANGE, "--verdict", "confirmed", "--at", DECIDED]):
        done = cdrwatch("feedback", *argv, "--out", str(verdicts))
        assert done.returncode == 0 and "->" in done.stdout, done.stderr
    for name, extra in (("plain", []), ("judged", ["--feedback", str(verdicts)])):
        done = cdrwatch("detect", str(FIXTURE), "--out", str(d / f"{name}.alerts.jsonl"),
                        "--warnings", str(d / f"{name}.warnings.jsonl"), *extra)
        assert done.returncode == 0, done.stderr
        (d / f"{name}.stdout").write_text(done.stdout)
    return {"dir": d, "feedback": verdicts}


def test_feedback_out_appends_one_verdict_a_line(runs: dict[str, Path]) -> None:
    got = [AnalystFeedback.model_validate(doc) for doc in _lines(runs["feedback"])]
    assert [(f.alert_id, f.verdict) for f in got] == [
        (FANOUT, "false_alarm"), (RAMP, "false_alarm"), (RANGE, "confirmed")]
    assert got[1].suppress_for == timedelta(minutes=15) and got[1].analyst == "ann"
    assert _lines(runs["feedback"])[1]["suppress_for"] == "PT15M"  # ISO 8601 on the wire


def test_detect_retracts_each_warning_of_a_false_alarm_after_the_warnings(
        runs: dict[str, Path]) -> None:
    d = runs["dir"]
    plain = [SubscriberWarning.model_validate(w) for w in _lines(d / "plain.warnings.jsonl")]
    judged = _lines(d / "judged.warnings.jsonl")
    kinds = [w["kind"] for w in judged]
    assert "retraction" in kinds and kinds == sorted(kinds, key=lambda k: k == "retraction")
    warnings = [SubscriberWarning.model_validate(w) for w in judged if w["kind"] == "warning"]
    withdrawn = [WarningRetraction.model_validate(w) for w in judged
                 if w["kind"] == "retraction"]
    # the suppression took the ramp's calls from 11:10 on: warnings of it are lost, no
    # other (a subscriber whose daily cap it freed may hear of another incident instead)
    lost = {w.alert_id for w in plain if w not in warnings}
    assert lost == {RAMP}, lost
    freed = {w.subscriber for w in warnings if w not in plain}
    assert freed <= {w.subscriber for w in plain if w.alert_id == RAMP and w not in warnings}
    of_false_alarms = [w.warning_id for w in warnings if w.alert_id in (FANOUT, RAMP)]
    assert sorted(r.warning_id for r in withdrawn) == sorted(of_false_alarms)
    assert len(of_false_alarms) == len(set(of_false_alarms)) > 20  # once each
    decided = {FANOUT: DECIDED, RAMP: RAMP_DECIDED}
    assert all(r.retracted_at == datetime.fromisoformat(decided[r.alert_id])
               for r in withdrawn)
    assert f"{len(withdrawn)} warnings retracted" in (d / "judged.stdout").read_text()


def test_detect_drops_the_alerts_a_suppression_covers_and_only_those(
        runs: dict[str, Path]) -> None:
    d = runs["dir"]
    plain = [Alert.model_validate(a) for a in _lines(d / "plain.alerts.jsonl")]
    judged = [Alert.model_validate(a) for a in _lines(d / "judged.alerts.jsonl")]
    start = datetime.fromisoformat(RAMP_DECIDED)
    dropped = [a for a in plain if a not in judged]
    assert dropped and all(a.alert_id == RAMP and a.status != "resolved" and start
                           <= a.window_start < start + timedelta(minutes=15) for a in dropped)
    # the judged incident's resolution passes, so a case tool sees it close
    assert [a.status for a in judged if a.alert_id == RAMP][-1] == "resolved"
    assert [a for a in plain if a not in dropped] == judged
    out = (d / "judged.stdout").read_text()
    assert f"3 incidents judged, 2 false alarms, {len(dropped)} alerts suppressed" in out
    assert "burst_range                  1 confirmed, 0 false alarms, precision 1.00" in out
    assert "burst_ramp                   0 confirmed, 1 false alarms, precision 0.00" in out


def test_hotlist_export_without_a_false_alarm_s_incident(runs: dict[str, Path]) -> None:
    alerts = str(runs["dir"] / "plain.alerts.jsonl")
    at = ["--at", "2026-11-20T11:21:00Z", "--format", "json"]
    plain = orjson.loads(cdrwatch("hotlist", "export", "--alerts", alerts, *at).stdout)
    done = cdrwatch("hotlist", "export", "--alerts", alerts, *at,
                    "--feedback", str(runs["feedback"]))
    assert done.returncode == 0, done.stderr
    judged = orjson.loads(done.stdout)
    by_key = {e["key"]: e["alert_id"] for e in plain["entries"]}
    assert by_key == {"+447512772130": FANOUT, "+4475127": RAMP}
    # the number is withdrawn, its range passes to the incident beside the false alarm
    assert {e["key"]: e["alert_id"] for e in judged["entries"]} == {"+4475127": RANGE}
    earlier = ["--at", "2026-11-20T11:09:00Z", "--format", "json"]
    before = cdrwatch("hotlist", "export", "--alerts", alerts, *earlier,
                      "--feedback", str(runs["feedback"]))
    assert orjson.loads(before.stdout)["entries"] == orjson.loads(cdrwatch(
        "hotlist", "export", "--alerts", alerts, *earlier).stdout)["entries"]  # not yet given


@pytest.mark.parametrize(("argv", "says"), [
    (["--verdict", "maybe"], "--verdict: Input should be 'confirmed' or 'false_alarm'"),
    (["--verdict", "false_alarm", "--suppress-for", "1day"], "not an ISO 8601 duration"),
    (["--verdict", "false_alarm", "--suppress-for", "P0D"], "positive"),
    (["--verdict", "confirmed", "--suppress-for", "P1D"], "false_alarm verdict only"),
    (["--verdict", "confirmed", "--at", "yesterday"], "--at:"),
])
def test_a_wrong_verdict_is_one_line_and_nothing_written(argv: list[str], says: str,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "f.jsonl"
    done = cdrwatch("feedback", "--alert", FANOUT, *argv, "--out", str(out))
    assert done.returncode == 2 and says in one_error_line(done)
    assert not out.exists()


def test_an_unreachable_broker_is_one_line() -> None:
    done = cdrwatch("feedback", "--alert", FANOUT, "--verdict", "confirmed",
                    "--broker", "kafka://127.0.0.1:9")
    assert done.returncode == 2 and "cannot reach the broker" in one_error_line(done)


def test_a_feedback_file_line_that_is_no_verdict_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "f.jsonl"
    bad.write_text('{"alert_id": "x", "verdict": "confirmed", "at": "2026-11-20T11:00:00Z"}\n'
                   '{"alert_id": "x", "verdict": "wrong"}\n')
    done = cdrwatch("hotlist", "export", "--alerts", str(bad), "--format", "csv",
                    "--feedback", str(bad))
    assert done.returncode == 2 and f"{bad}:" in one_error_line(done)
    done = cdrwatch("detect", str(FIXTURE), "--feedback", str(bad))
    assert done.returncode == 2 and f"{bad}:2: not a verdict: verdict:" in one_error_line(done)
