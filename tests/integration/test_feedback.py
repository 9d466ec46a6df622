"""Analysts' verdicts over the real broker: `cdrwatch feedback` produced mid-stream withdraws
a false alarm's hotlist entries and retracts each of its warnings once, a suppression drops
what it covers, and all of it is what `detect --feedback` and `hotlist export --feedback`
give offline on the same input."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import orjson
from kafka import KafkaConsumer

from streams.events import AnalystFeedback, SubscriberWarning, dump_alert
from streams.replay import replay
from tests.conftest import FIXTURES, Worker, consume, produce, replay_complete
from tests.unit.clirun import cdrwatch
from tests.unit.test_hotlist import MIN, T0, alert

FIXTURE = FIXTURES / "burst_campaigns.jsonl"
SPLIT = "2026-11-20T11:20:00"  # the verdicts come between the calls before and after
FANOUT = "8dd70d94248eb1c0ddbd"  # fanout_number on +447512772130, the number's only one
RAMP = "8281dced5660799363c2"  # burst_ramp on +4475127, that range's entry at 11:20
RANGE = "a3d87b96bac921444d17"  # burst_range on the same range, the next strongest
# The fan-out's update after 11:20 is dropped; each judged incident's resolution passes.
VERDICTS = [["--alert", FANOUT, "--verdict", "false_alarm", "--suppress-for", "PT15M"],
            ["--alert", RAMP, "--verdict", "false_alarm", "--suppress-for", "PT15M"],
            ["--alert", RANGE, "--verdict", "confirmed"]]


def _split(tmp: Path) -> tuple[Path, Path]:
    before, after = tmp / "before.jsonl", tmp / "after.jsonl"
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    early = [line for line in lines if orjson.loads(line)["start_time"] < SPLIT]
    before.write_bytes(b"".join(early))
    after.write_bytes(b"".join(line for line in lines if line not in set(early)))
    return before, after


def _hotlist(bootstrap: str, topic: str, done: object, idle_s: float = 4.0,
             timeout_s: float = 60.0) -> dict[str, dict]:
    """The topic folded by key (a tombstone removes), once `done(state)` holds and it has
    been idle a while."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    state: dict[str, dict] = {}
    deadline, last, seen = time.monotonic() + timeout_s, time.monotonic(), False
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen = True
                for r in records:
                    if r.value is None:
                        state.pop(r.key.decode(), None)
                    else:
                        state[r.key.decode()] = orjson.loads(r.value)
                last = time.monotonic()
            if seen and done(state) and time.monotonic() - last > idle_s:  # type: ignore[operator]
                return state
    finally:
        consumer.close()
    raise AssertionError(f"hotlist never settled: {state}")


def _export(alerts: list[bytes], tmp: Path, feedback: Path | None) -> dict[str, dict]:
    path = tmp / f"alerts-{len(alerts)}.jsonl"
    path.write_bytes(b"\n".join(alerts) + b"\n")
    extra = ["--feedback", str(feedback)] if feedback else []
    done = cdrwatch("hotlist", "export", "--alerts", str(path), "--format", "json", *extra)
    assert done.returncode == 0, done.stderr
    return {e["key"]: e for e in orjson.loads(done.stdout)["entries"]}


def _offline(tmp: Path, feedback: Path) -> tuple[list[dict], list[dict]]:
    alerts, warnings = tmp / "offline.alerts.jsonl", tmp / "offline.warnings.jsonl"
    done = cdrwatch("detect", str(FIXTURE), "--feedback", str(feedback), "--out", str(alerts),
                    "--warnings", str(warnings))
    assert done.returncode == 0, done.stderr
    return ([orjson.loads(x) for x in alerts.read_bytes().splitlines()],
            [orjson.loads(x) for x in warnings.read_bytes().splitlines()])


def _give_verdicts(worker: Worker, tmp: Path) -> Path:
    """Each verdict produced by `cdrwatch feedback`, and the same written for offline use."""
    out = tmp / "feedback.jsonl"
    env = {"CDRWATCH_BROKER": worker.env["CDRWATCH_BROKER"],
           "CDRWATCH_FEEDBACK_TOPIC": worker.names["feedback"]}
    for argv in VERDICTS:
        at = [*argv, "--at", f"{SPLIT}Z"]
        for where in ([], ["--out", str(out)]):
            done = cdrwatch("feedback", *at, *where, env=env)
            assert done.returncode == 0, done.stderr
    return out


def _metric(worker: Worker, series: str) -> float | None:
    """A series' value, None while it is not there (or the server is not up yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{worker.metrics_port}/metrics") as r:
            text = r.read().decode()
    except OSError:
        return None
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, flags=re.M)
    return float(found.group(1)) if found else None


def _identity(alert: dict) -> tuple[str, str, str]:
    return alert["alert_id"], alert["status"], alert["window_start"]


def test_a_false_alarm_mid_stream_is_retracted_as_offline_retracts_it(
        make_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    topic = f"hotlist-{uuid.uuid4().hex[:8]}"
    worker = make_worker(partitions=1, CDRWATCH_HOTLIST_TOPIC=topic)
    before, after = _split(tmp_path)
    replay([before], worker.bootstrap, worker.names["events"], progress=False)
    alerts = consume(worker.bootstrap, worker.names["alerts"], idle_s=6)
    listed = _hotlist(worker.bootstrap, topic, lambda s: "+447512772130" in s)
    assert listed == _export(alerts, tmp_path, None)
    assert listed["+447512772130"]["alert_id"] == FANOUT
    assert listed["+4475127"]["alert_id"] == RAMP

    feedback = _give_verdicts(worker, tmp_path)
    withdrawn = _hotlist(worker.bootstrap, topic, lambda s: "+447512772130" not in s)
    assert withdrawn == _export(alerts, tmp_path, feedback)  # `hotlist export --feedback`
    assert withdrawn["+4475127"]["alert_id"] == RANGE  # the next strongest takes the range

    replay_complete([after], worker)
    published = [orjson.loads(a) for a in consume(worker.bootstrap, worker.names["alerts"],
                                                  idle_s=6)]
    records = [orjson.loads(w) for w in consume(worker.bootstrap, worker.names["warnings"],
                                                idle_s=6)]
    offline_alerts, offline_warnings = _offline(tmp_path, feedback)
    # the suppressions dropped the same alerts as offline (from 11:20 to 11:35, but the
    # resolutions of the judged incidents)
    assert sorted(map(_identity, published)) == sorted(map(_identity, offline_alerts))

    issued = [w for w in records if w["kind"] == "warning"]
    retracted = [w["warning_id"] for w in records if w["kind"] == "retraction"]
    of_false_alarms = sorted(w["warning_id"] for w in issued if w["alert_id"] in (FANOUT, RAMP))
    assert of_false_alarms and sorted(retracted) == of_false_alarms  # once each, no other
    # which incidents a subscriber hears of, once the daily cap binds, follows arrival
    # order (README, Guarantees); how many does not, and where the worker and offline warned
    # alike they retract alike
    offline = [w for w in offline_warnings if w["kind"] == "warning"]
    assert Counter(w["subscriber"] for w in issued) == Counter(w["subscriber"] for w in offline)
    both = {w["warning_id"] for w in issued} & {w["warning_id"] for w in offline}
    offline_retracted = {w["warning_id"] for w in offline_warnings if w["kind"] == "retraction"}
    assert set(retracted) & both == offline_retracted & both != set()

    assert _metric(worker, 'cdrwatch_warnings_total{outcome="retracted"}') == len(retracted)
    for detector, kind in (("fanout_number", "false_alarm"), ("burst_ramp", "false_alarm"),
                           ("burst_range", "confirmed")):
        series = f'cdrwatch_feedback_incidents{{detector="{detector}",verdict="{kind}"}}'
        assert _metric(worker, series) == 1, series
    plain = cdrwatch("detect", str(FIXTURE), "--out", str(tmp_path / "plain.jsonl"))
    assert plain.returncode == 0, plain.stderr
    dropped = len((tmp_path / "plain.jsonl").read_bytes().splitlines()) - len(offline_alerts)
    assert dropped > 0
    assert sum(_metric(worker, f'cdrwatch_alerts_suppressed_total{{detector="{d}"}}') or 0
               for d in ("fanout_number", "burst_ramp")) == dropped
    resolved = {a["alert_id"] for a in published if a["status"] == "resolved"}
    assert {FANOUT, RAMP} <= resolved  # a case tool sees the judged incidents close


def test_a_restarted_worker_retracts_nothing_twice_and_a_reversal_reinstates(
        make_worker) -> None:  # type: ignore[no-untyped-def]
    """The reader alone, on records put on its topics by hand: no detection to wait for."""
    topic = f"hotlist-{uuid.uuid4().hex[:8]}"
    worker = make_worker(partitions=1, CDRWATCH_HOTLIST_TOPIC=topic)
    incident = alert(severity="high", score=0.9, at=1)
    warned = SubscriberWarning(warning_id="0123456789abcdef0123", subscriber="+393511745650",
                               alert_id=incident.alert_id, detector=incident.detector,
                               severity="high", first_contact=T0, record_id="r1",
                               caller="+63917550001", language="en", reason="x")
    produce(worker.bootstrap, worker.names["alerts"], [dump_alert(incident)])
    produce(worker.bootstrap, worker.names["warnings"], [warned.model_dump_json().encode()])
    assert "+6391755" in _hotlist(worker.bootstrap, topic, lambda s: "+6391755" in s)

    def verdict(kind: str, minute: int) -> bytes:
        return AnalystFeedback(alert_id=incident.alert_id, verdict=kind,  # type: ignore[arg-type]
                               at=T0 + minute * MIN).model_dump_json().encode()

    produce(worker.bootstrap, worker.names["feedback"], [verdict("false_alarm", 5)])
    _hotlist(worker.bootstrap, topic, lambda s: not s)
    records = consume(worker.bootstrap, worker.names["warnings"], until=2, timeout_s=30)
    assert [orjson.loads(r)["kind"] for r in records] == ["warning", "retraction"]
    hotlist_records = len(consume(worker.bootstrap, topic, idle_s=2))

    worker.stop()
    worker.start()
    deadline = time.monotonic() + 30
    judged = 'cdrwatch_feedback_incidents{detector="burst_range",verdict="false_alarm"}'
    while _metric(worker, judged) != 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _metric(worker, judged) == 1  # the restarted reader has read the verdict again
    time.sleep(4)  # and had the time to publish anything it would
    assert len(consume(worker.bootstrap, worker.names["warnings"], idle_s=2)) == 2
    assert len(consume(worker.bootstrap, topic, idle_s=2)) == hotlist_records

    produce(worker.bootstrap, worker.names["feedback"], [verdict("confirmed", 9)])
    records = consume(worker.bootstrap, worker.names["warnings"], until=3, timeout_s=30)
    assert orjson.loads(records[-1]) == orjson.loads(warned.model_dump_json())  # reinstated
    relisted = _hotlist(worker.bootstrap, topic, lambda s: "+6391755" in s)
    assert relisted["+6391755"]["alert_id"] == incident.alert_id
    assert _metric(worker, 'cdrwatch_warnings_total{outcome="reinstated"}') == 1
