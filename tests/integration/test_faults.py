"""The README's guarantees under the faults real CDR feeds bring, on the real broker.

Each test delivers the demo fixture (5,575 calls, 68 alerts offline) the hard way and
expects exactly offline `detect`'s incidents and window counts: file drops with pauses
longer than every idle timeout, a quarter of the calls delivered twice, a SIGKILL and a
restart mid-stream, a second worker joining and the first leaving. The per-call verdicts
on the verdicts topic are offline `detect`'s too: each covered call under its incident.
"""

from __future__ import annotations

import random
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaAdminClient

from streams.events import Alert, load_alert
from streams.offline import detect_files
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.verdicts import call_verdict
from streams.warnings import Warner, candidate
from tests.conftest import consume, produce, replay_complete

pytestmark = pytest.mark.integration
DEMO = Path(__file__).resolve().parents[2] / "streams" / "fixtures" / "demo.jsonl"
LINES = DEMO.read_bytes().splitlines()
PAUSE_S = 5.0  # longer than the test workers' idle timeout (3 s) and flush interval (1 s)


def incidents(alerts: list[Alert]) -> list[tuple]:
    """What arrival order, batching and redelivery may not change: every alert's identity,
    and the figures of every closed window. A redelivered duplicate collapses into one."""
    return sorted({
        (a.alert_id, a.detector, a.key, a.status, a.window_start.isoformat(),
         None if a.status == "open" else a.observed,
         None if a.status == "open" else tuple(a.record_ids))
        for a in alerts})


POLICY = load_policy(DEFAULT_POLICY)
OFFLINE = detect_files([DEMO], POLICY).result
EXPECTED = incidents(OFFLINE.alerts)
# Per-call verdicts: which call, under which incident (a redelivered copy is the same one).
VERDICTS = sorted({(c.record_id, c.detector, c.alert_id) for c in OFFLINE.covered})
_MARKED = [call_verdict(c, "IT") for c in OFFLINE.covered]
_WARNER = Warner(POLICY)
_WARNED = [w for v in _MARKED if (w := _WARNER.see(v))]
# Which incidents a subscriber hears of first depends on arrival order once the daily cap
# binds; how many they hear of, and of which answered calls, does not.
WARNED_PER_SUBSCRIBER = Counter(w.subscriber for w in _WARNED)
WARNABLE = {(v.subscriber, v.alert_id) for v in _MARKED if candidate(v, POLICY)}


def alerts_of(worker, timeout_s: float = 120) -> list[Alert]:  # type: ignore[no-untyped-def]
    """Alerts on the worker's topic, read until every expected incident line is there."""
    deadline = time.monotonic() + timeout_s
    got: list[Alert] = []
    while time.monotonic() < deadline:
        got = [load_alert(v) for v in consume(worker.bootstrap, worker.names["alerts"],
                                                idle_s=2, timeout_s=10)]
        if len(incidents(got)) >= len(EXPECTED):
            break
        time.sleep(1)
    return got


def warnings_of(worker, timeout_s: float = 180) -> list[dict]:  # type: ignore[no-untyped-def]
    """Every warning record, read until as many distinct ones as offline (a restarted
    worker's warnings agent waits for its table's recovery) or the time is up."""
    deadline = time.monotonic() + timeout_s
    while True:
        records = [orjson.loads(r) for r in consume(
            worker.bootstrap, worker.names["warnings"], idle_s=2, timeout_s=20)]
        if len({w["warning_id"] for w in records}) >= len(_WARNED) \
                or time.monotonic() > deadline:
            return records
        time.sleep(1)


def same_as_offline(alerts: list[Alert], worker=None) -> None:  # type: ignore[no-untyped-def]
    """The offline incidents; with `worker`, also the offline per-call verdicts."""
    got = incidents(alerts)
    missing = [i[:6] for i in EXPECTED if i not in got]
    extra = [i[:6] for i in got if i not in EXPECTED]
    assert not missing and not extra, f"missing {missing}, extra {extra}"
    if worker is not None:
        verdicts = [orjson.loads(v) for v in consume(
            worker.bootstrap, worker.names["verdicts"], idle_s=2, timeout_s=20)]
        marked = sorted({(v["record_id"], v["detector"], v["alert_id"]) for v in verdicts})
        assert len(marked) == len(VERDICTS) and marked == VERDICTS
        # A crash between a warning's delivery and its book's write does not send it again
        # (test_warned_once.py reproduces that gap): one record per warning.
        records = warnings_of(worker)
        warned = {w["warning_id"]: w for w in records}
        assert len(records) == len(warned), "a warning sent twice"
        pairs = {(w["subscriber"], w["alert_id"]) for w in warned.values()}
        assert len(pairs) == len(warned) and pairs <= WARNABLE
        per_subscriber = Counter(w["subscriber"] for w in warned.values())
        short, over = WARNED_PER_SUBSCRIBER - per_subscriber, per_subscriber - WARNED_PER_SUBSCRIBER
        assert not short and not over, f"{len(warned)} warnings of {len(_WARNED)}: " \
            f"short {dict(short)}, over {dict(over)}"


def metric(worker, name: str) -> float:  # type: ignore[no-untyped-def]
    text = urllib.request.urlopen(
        f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def wait_until(check, timeout_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    """Until `check()`; a worker whose metrics server is not up yet has not got there."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.3)


def test_file_drops_with_pauses_longer_than_every_idle_timeout(make_worker,
                                                               tmp_path: Path) -> None:
    from streams.replay import replay

    worker = make_worker(partitions=2)
    third = len(LINES) // 3
    drops = [write(tmp_path / f"drop{i}.jsonl", LINES[i * third:(i + 1) * third])
             for i in range(2)]
    for drop in drops:  # each file ends with its own watermark, then the feed pauses
        replay([drop], worker.bootstrap, worker.names["events"], progress=False)
        time.sleep(PAUSE_S)
    last = write(tmp_path / "drop2.jsonl", LINES[2 * third:])
    replay_complete([last], worker)
    same_as_offline(alerts_of(worker), worker)
    assert metric(worker, "cdrwatch_late_events_total") == 0


def test_a_quarter_of_the_calls_delivered_twice_count_once(make_worker,
                                                           tmp_path: Path) -> None:
    rng = random.Random(5)
    resent: list[bytes] = []
    for i, line in enumerate(LINES):
        resent.append(line)
        if rng.random() < 0.25:  # resent a little later, as a mediation retry does
            resent.insert(len(resent) - rng.randrange(0, 20), LINES[max(0, i - 5)])
    path = write(tmp_path / "twice.jsonl", resent)
    assert incidents(detect_files([path], load_policy(DEFAULT_POLICY)).result.alerts) == EXPECTED
    worker = make_worker(partitions=2)
    replay_complete([path], worker)
    same_as_offline(alerts_of(worker), worker)
    assert metric(worker, "cdrwatch_duplicate_events_total") > 0


def test_sigkill_and_restart_mid_stream(make_worker, tmp_path: Path) -> None:
    first = make_worker(partitions=2)
    half = len(LINES) // 2
    produce(first.bootstrap, first.names["events"], LINES[:half])
    wait_until(lambda: metric(first, "cdrwatch_events_valid_total") >= half // 2)
    first.proc.send_signal(signal.SIGKILL)  # mid-batch: nothing flushed, nothing committed
    first.proc.wait()
    second = make_worker(partitions=2, app_id=first.env["CDRWATCH_APP_ID"])
    replay_complete([write(tmp_path / "rest.jsonl", LINES[half:])], second)
    same_as_offline(alerts_of(second), second)
    # the restarted worker read again what the killed one had not committed
    assert metric(second, "cdrwatch_events_valid_total") > len(LINES) - half


def test_sigkill_right_after_a_keyed_commit(make_worker, tmp_path: Path) -> None:
    """Keyed state reaches the changelog in write rounds, here 5 s apart: a keyed offset
    committed before its round (Faust acks as soon as the agent moves on) would lose the
    calls of every message after the last round when the worker dies."""
    first = make_worker(partitions=2, CDRWATCH_STATE_WRITE_INTERVAL_S="5")
    produce(first.bootstrap, first.names["events"], LINES[:len(LINES) // 2])
    admin = KafkaAdminClient(bootstrap_servers=first.bootstrap)
    try:
        wait_until(lambda: committed(admin, first, "keyed") > 0, timeout_s=90)
    finally:
        admin.close()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait()
    second = make_worker(partitions=2, app_id=first.env["CDRWATCH_APP_ID"])
    replay_complete([write(tmp_path / "rest.jsonl", LINES[len(LINES) // 2:])], second)
    same_as_offline(alerts_of(second), second)


def committed(admin: KafkaAdminClient, worker, role: str) -> int:  # type: ignore[no-untyped-def]
    """Messages of the worker's `role` topic its group has committed, over all partitions."""
    offsets = admin.list_group_offsets(worker.env["CDRWATCH_APP_ID"])
    group = next(iter(offsets.values()), {})
    return sum(o.offset for tp, o in group.items() if tp.topic == worker.names[role])


def test_sigterm_mid_batch_three_times_loses_nothing(make_worker, tmp_path: Path) -> None:
    """A graceful stop (a rolling restart) lands in the middle of a batch: Faust then acks
    and commits the batch it cancelled, whose keyed items or state never reached Kafka."""
    worker = make_worker(partitions=2)
    cut = len(LINES) * 5 // 6
    produce(worker.bootstrap, worker.names["events"], LINES[:cut])
    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)

    def reading(w) -> bool:  # type: ignore[no-untyped-def]
        # 300 calls read, or (a fast worker) the whole backlog committed before that
        return (metric(w, "cdrwatch_events_valid_total") >= 300
                or committed(admin, w, "events") >= cut)

    for _ in range(3):
        wait_until(lambda w=worker: reading(w))
        worker.stop()  # SIGTERM while the backlog is being read
        worker = make_worker(partitions=2, app_id=worker.env["CDRWATCH_APP_ID"])
    admin.close()
    replay_complete([write(tmp_path / "rest.jsonl", LINES[cut:])], worker)
    same_as_offline(alerts_of(worker), worker)


def test_a_second_worker_joins_and_the_first_leaves_mid_stream(make_worker,
                                                                tmp_path: Path) -> None:
    first = make_worker(partitions=4)
    third = len(LINES) // 3
    produce(first.bootstrap, first.names["events"], LINES[:third])
    second = make_worker(partitions=4, app_id=first.env["CDRWATCH_APP_ID"])
    produce(first.bootstrap, first.names["events"], LINES[third:2 * third])
    wait_until(lambda: metric(second, "cdrwatch_events_valid_total") > 0)
    first.stop()
    replay_complete([write(tmp_path / "rest.jsonl", LINES[2 * third:])], second)
    same_as_offline(alerts_of(second), second)
