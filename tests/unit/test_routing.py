"""Keyed-topic packing: stable partitions, bounded messages, order kept, safe stream time."""

from __future__ import annotations

import orjson

from streams.agents.routing import pack, partition_of, safe_time, unpack, watermark_of
from streams.detect.windowed import Item


def items(n: int) -> list:
    return [("burst_range", f"+63917{i % 3}", Item(float(i), f"r{i}", "+63", "+39", 1.0, True))
            for i in range(n)]


def test_partition_is_stable_and_within_range() -> None:
    assert partition_of("burst_range", "+6391755", 8) == partition_of("burst_range", "+6391755", 8)
    assert {partition_of("f", str(k), 4) for k in range(200)} == {0, 1, 2, 3}


def test_large_batches_are_split_and_each_key_keeps_its_order() -> None:
    messages = pack(items(25), partitions=1, watermark=9.0, sender="w1", max_rows=10)
    assert [p for p, _ in messages] == [0, 0, 0]
    seen: dict[tuple[str, str], list[str]] = {}
    for _, value in messages:
        sender, mark, groups = unpack(value)
        assert (sender, mark) == ("w1", 9.0)
        for key, its in groups.items():
            seen.setdefault(key, []).extend(i.record_id for i in its)
    assert seen[("burst_range", "+639170")] == [f"r{i}" for i in range(0, 25, 3)]


def test_a_key_crosses_the_topic_once_per_message_with_its_rows_in_order() -> None:
    [(_, value)] = pack(items(12), partitions=1, watermark=None, sender="w1")
    groups = orjson.loads(value)["g"]
    assert sorted(key for _, key, _ in groups) == ["+639170", "+639171", "+639172"]
    assert all(len(rows) == 4 for _, _, rows in groups)
    assert unpack(value)[2][("burst_range", "+639171")][1] == items(12)[4][2]


def test_safe_time_follows_the_slowest_recent_sender() -> None:
    heard = {"a": (1000.0, 50.0), "b": (700.0, 55.0), "old": (10.0, 0.0)}
    assert safe_time(heard, now=60.0, horizon_s=30) == (700.0, 5.0)
    assert safe_time({**heard, "c": (None, 58.0)}, now=60.0, horizon_s=30)[0] is None
    assert safe_time({}, now=60.0, horizon_s=30) == (None, 0.0)


def test_watermark_waits_for_a_fresh_unseen_partition_and_ignores_an_idle_one() -> None:
    seen = {0: (500.0, 99.0), 1: (300.0, 98.0)}
    assert watermark_of(seen, {}, {0, 1}, set(), now=100.0, idle_s=10) == 300.0
    # partition 2 not read from yet: hold back, for a while
    assert watermark_of(seen, {2: 95.0}, {0, 1, 2}, set(), now=100.0, idle_s=10) is None
    assert watermark_of(seen, {2: 0.0}, {0, 1, 2}, set(), now=100.0, idle_s=10) == 300.0
    # partition 1 silent but with a backlog (lagging), then silent and read to its end (idle)
    quiet = {**seen, 1: (300.0, 50.0)}
    assert watermark_of(quiet, {}, {0, 1}, set(), now=100.0, idle_s=10) == 300.0
    assert watermark_of(quiet, {}, {0, 1}, {1}, now=100.0, idle_s=10) == 500.0
