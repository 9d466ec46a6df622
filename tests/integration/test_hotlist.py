"""The worker's hotlist topic over the real broker: an entry for each incident the offline
detectors find on a number or range, as `hotlist export` lists it, and a tombstone for
each once its incident resolved."""

from __future__ import annotations

import itertools
import time
import urllib.request
import uuid

import orjson
from kafka import KafkaConsumer

from streams.detect.engine import run_offline
from streams.events import Alert, parse_record
from streams.hotlist import build, load_entry
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from tests.conftest import FIXTURES, consume, replay_complete

FIXTURE = FIXTURES / "burst_campaigns.jsonl"


def _keyed(bootstrap: str, topic: str, idle_s: float = 6.0,
           timeout_s: float = 60.0) -> list[tuple[str, bytes | None]]:
    """(key, value) of every record on `topic`, in order, once it has been idle a while."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    out: list[tuple[str, bytes | None]] = []
    deadline, last = time.monotonic() + timeout_s, time.monotonic()
    try:
        while time.monotonic() < deadline and not (out and time.monotonic() - last > idle_s):
            for records in consumer.poll(timeout_ms=500).values():
                out.extend((r.key.decode(), r.value) for r in records)
                last = time.monotonic()
    finally:
        consumer.close()
    return out


def _reachable(offline: list[Alert], key: str) -> list[object]:
    """Every entry `key` can have after a reader has read, of each incident on it, its first
    lines in order: the worker publishes each incident's lines in order, but how the lines
    of two incidents interleave depends on its batches (a loaded machine cuts them apart)."""
    lines: dict[str, list[Alert]] = {}
    for alert in offline:
        if alert.key == key:
            lines.setdefault(alert.alert_id, []).append(alert)
    cuts = itertools.product(*(range(len(own) + 1) for own in lines.values()))
    return [build([a for own, n in zip(lines.values(), cut, strict=True) for a in own[:n]]
                  ).entries.get(key) for cut in cuts]


def test_the_worker_lists_what_offline_detect_finds_and_tombstones_it_once_resolved(
        make_worker) -> None:  # type: ignore[no-untyped-def]
    topic = f"hotlist-{uuid.uuid4().hex[:8]}"
    worker = make_worker(partitions=1, CDRWATCH_HOTLIST_TOPIC=topic)
    replay_complete([FIXTURE], worker)
    alerts = consume(worker.bootstrap, worker.names["alerts"], idle_s=6)
    published = _keyed(worker.bootstrap, topic)

    calls = [parse_record(orjson.loads(line)) for line in FIXTURE.read_bytes().splitlines()]
    offline = run_offline(calls, load_policy(DEFAULT_POLICY)).alerts
    assert len(alerts) == len(offline)
    states = [build(offline[:n]).entries for n in range(1, len(offline) + 1)]
    ever = {key for state in states for key in state}
    assert {"+6391755", "+21621430", "+4475127", "+447512772130", "+22177609"} <= ever
    assert "+44" not in ever and "+393511745650" not in ever  # a country, a victim

    final: dict[str, bytes | None] = {}
    for key, value in published:
        final[key] = value
        if value is not None:
            entry = load_entry(value)
            assert entry in _reachable(offline, key), entry
    assert set(final) <= ever and final  # entries were published...
    assert all(v is None for v in final.values())  # ...and each ended in a tombstone
    assert build(offline).entries == {}  # as `hotlist export` says at the end

    with urllib.request.urlopen(f"http://127.0.0.1:{worker.metrics_port}/metrics") as r:
        text = r.read().decode()
    assert 'cdrwatch_hotlist_entries{action="block"} 0.0' in text
