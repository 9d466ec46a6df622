"""The worker over the real embedded broker: alerts, dead letters, micro-batches, offline parity."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import orjson
import pytest

from streams.events import DeadLetter, load_alert
from streams.offline import alert_line, detect_files
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from tests.conftest import consume, produce, replay_complete

pytestmark = pytest.mark.integration
DEMO = Path(__file__).resolve().parents[2] / "streams" / "fixtures" / "demo.jsonl"


def offline_lines(path: Path) -> list[bytes]:
    report = detect_files([path], load_policy(DEFAULT_POLICY))
    return sorted(alert_line(a) for a in report.result.alerts)


def worker_lines(values: list[bytes]) -> list[bytes]:
    return sorted(alert_line(load_alert(v)) for v in values)


def test_worker_alerts_equal_offline_detect_on_the_demo_fixture(make_worker) -> None:
    expected = offline_lines(DEMO)
    detectors = {orjson.loads(line)["detector"] for line in expected}
    assert {"spoof_protected", "burst_range", "wangiri_range"} <= detectors
    worker = make_worker(partitions=1)
    report = replay_complete([DEMO], worker)
    assert report.sent == len(DEMO.read_bytes().splitlines()) and report.invalid == []
    got = consume(worker.bootstrap, worker.names["alerts"], until=len(expected), timeout_s=120)
    assert worker_lines(got) == expected
    assert all(load_alert(v).emitted_at is not None for v in got)


def test_micro_batched_messages_give_the_same_alerts(make_worker, tmp_path: Path) -> None:
    lines = DEMO.read_bytes().splitlines()
    batched = tmp_path / "batched.jsonl"
    batched.write_bytes(b"\n".join(b"[" + b",".join(lines[i:i + 100]) + b"]"
                                   for i in range(0, len(lines), 100)))
    expected = offline_lines(DEMO)
    assert offline_lines(batched) == expected
    worker = make_worker(partitions=1)
    report = replay_complete([batched], worker)
    assert report.sent == -(-len(lines) // 100)
    got = consume(worker.bootstrap, worker.names["alerts"], until=len(expected), timeout_s=120)
    assert worker_lines(got) == expected


def test_bad_records_land_in_the_dead_letter_topic_and_good_ones_still_alert(make_worker) -> None:
    good = {"record_id": "ok-1", "start_time": "2026-11-20T10:00:00Z", "duration_s": 5,
            "answered": True, "calling_number": "4010086", "called_number": "3331234567",
            "ingress_trunk": "INTL-BICS-1"}
    values = [
        b"this is not json",
        orjson.dumps([{**good, "record_id": "ok-2"}, {"record_id": "half"}]),
        orjson.dumps({**good, "start_time": "yesterday"}),
        orjson.dumps(good),
    ]
    worker = make_worker()
    produce(worker.bootstrap, worker.names["events"], values)
    dead = [DeadLetter.model_validate_json(v)
            for v in consume(worker.bootstrap, worker.names["dlq"], until=3)]
    by_reason = sorted(d.reason.split(":")[0] for d in dead)
    assert by_reason == ["invalid record", "invalid record", "not JSON"]
    originals = {d.original for d in dead}
    assert "this is not json" in originals
    assert any(d.index_in_batch == 1 and '"half"' in d.original for d in dead)
    assert all(d.source_topic == worker.names["events"] and d.source_offset >= 0 for d in dead)
    alerts = [load_alert(v) for v in consume(worker.bootstrap, worker.names["alerts"], until=1)]
    assert alerts[0].detector == "spoof_protected" and alerts[0].key == "+394010086"
    assert set(alerts[0].record_ids) <= {"ok-1", "ok-2"}


def test_four_partitions_give_the_same_incidents_and_window_counts(make_worker) -> None:
    """Across partitions the arrival order differs, so the crossing call (and the open alert's
    sample) may differ; the incidents, their windows and every closed window's count may not."""
    report = detect_files([DEMO], load_policy(DEFAULT_POLICY))

    def summary(alerts: list) -> list[tuple]:
        return sorted((a.alert_id, a.detector, a.key, a.status, a.window_start.isoformat(),
                       a.observed if a.status != "open" else None) for a in alerts)

    worker = make_worker(partitions=4)
    replay_complete([DEMO], worker)
    got = consume(worker.bootstrap, worker.names["alerts"], until=len(report.result.alerts),
                  timeout_s=120)
    assert summary([load_alert(v) for v in got]) == summary(report.result.alerts)


def test_a_trunk_of_unknown_kind_is_counted_and_named_once_in_the_log(make_worker) -> None:
    record = {"record_id": "t-1", "start_time": "2026-11-20T10:00:00Z", "duration_s": 5,
              "answered": True, "calling_number": "+447911123456",
              "called_number": "3331234567", "ingress_trunk": "SIP-NEW-7"}
    worker = make_worker()
    produce(worker.bootstrap, worker.names["events"],
            [orjson.dumps({**record, "record_id": f"t-{i}"}) for i in range(3)]
            + [orjson.dumps({**record, "record_id": "t-k", "ingress_kind": "international"})])
    text = metrics_once_valid(worker, 4)
    assert "cdrwatch_unmapped_trunk_calls_total 3.0" in text  # the record with a kind is known
    log = worker.log_path.read_text()
    assert log.count("trunk 'SIP-NEW-7' is not in the policy's [trunks]") == 1
    assert "+447911123456" not in log  # the trunk is named, never the caller


def test_a_mis_declared_number_format_is_a_gauge_and_one_warning(make_worker,
                                                                 tmp_path: Path) -> None:
    """A carrier logging +63 917 551 2345 as 639175512345 on a trunk read nationally."""
    policy = tmp_path / "policy.toml"
    policy.write_text('home_country = "IT"\n[trunks]\n"INTL-CARRIER-1" = "international"\n'
                      "[number_format]\ncheck_calls = 10\n")
    callers = [f"6391755{i:05d}" for i in range(20)]
    worker = make_worker(policy=policy)
    produce(worker.bootstrap, worker.names["events"], [orjson.dumps({
        "record_id": f"f-{i}", "start_time": "2026-11-20T10:00:00Z", "duration_s": 5,
        "answered": True, "calling_number": caller, "called_number": "3331234567",
        "ingress_trunk": "INTL-CARRIER-1"}) for i, caller in enumerate(callers)])
    series = ('cdrwatch_trunk_number_format_misdeclared{declared="national",format="e164",'
              'trunk="INTL-CARRIER-1"} 1.0')
    text = metrics_once_valid(worker, 20)
    assert series in text
    log = worker.log_path.read_text()
    assert log.count("trunk 'INTL-CARRIER-1' is declared national") == 1
    assert not any(caller in log for caller in callers)


def metrics_once_valid(worker, events: int, timeout_s: float = 60) -> str:  # type: ignore[no-untyped-def]
    """The worker's /metrics text once it has read `events` valid events (or at timeout)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = urllib.request.urlopen(
            f"http://127.0.0.1:{worker.metrics_port}/metrics", timeout=5).read().decode()
        if f"cdrwatch_events_valid_total {events:.1f}" in text or time.monotonic() > deadline:
            return text
        time.sleep(0.5)
