"""Keyed-topic packing: stable partitions, messages bounded in bytes, order kept, marks."""

from __future__ import annotations

import msgspec

from streams.agents.routing import pack, partition_of, unpack
from streams.detect.windowed import Item

MARKS = {0: (9.0, False), 1: (None, True)}


def items(n: int, pad: str = "") -> list:
    return [("burst_range", f"+63917{i % 3}",
             Item(float(i), f"r{i}{pad}", "+63", "+39", 1.0, True, src=0, pos=i))
            for i in range(n)]


def test_partition_is_stable_and_within_range() -> None:
    assert partition_of("burst_range", "+6391755", 8) == partition_of("burst_range", "+6391755", 8)
    assert {partition_of("f", str(k), 4) for k in range(200)} == {0, 1, 2, 3}


def test_large_batches_are_split_by_bytes_and_each_key_keeps_its_order() -> None:
    messages = pack(items(300, pad="x" * 200), partitions=1, marks=MARKS, sources=2,
                    max_bytes=8000)
    assert len(messages) > 5 and all(len(v) <= 8000 for _, v in messages)
    seen: dict[tuple[str, str], list[str]] = {}
    last = {fk: n for n, (_, value) in enumerate(messages) for fk in unpack(value).groups}
    for n, (_, value) in enumerate(messages):
        marks, sources, groups, generation, more, continued = unpack(value)
        assert (marks, sources, generation) == (MARKS, 2, 0)
        # The fold of an earlier part must not close windows the later parts' rows fall
        # in (in CI, an earlier part's watermark made 200 calls of the next one late).
        assert more == (n < len(messages) - 1)
        assert continued == {fk for fk in groups if last[fk] > n}
        for key, its in groups.items():
            seen.setdefault(key, []).extend(i.record_id[:4].rstrip("x") for i in its)
    assert seen[("burst_range", "+639170")] == [f"r{i}" for i in range(0, 300, 3)]


def test_a_key_crosses_the_topic_once_per_message_with_its_rows_in_order() -> None:
    [(_, value)] = pack(items(12), partitions=1, marks=MARKS, sources=2)
    groups = msgspec.msgpack.decode(value)[4]
    assert sorted(key for _, key, _, _ in groups) == ["+639170", "+639171", "+639172"]
    assert all(len(rows) == 4 for _, _, rows, _ in groups)
    assert unpack(value)[2][("burst_range", "+639171")][1] == items(12)[4][2]


def test_every_keyed_partition_hears_the_marks_even_without_items() -> None:
    messages = pack(items(1), partitions=4, marks=MARKS, sources=2)
    assert sorted(p for p, _ in messages) == [0, 1, 2, 3]
    assert sum(len(unpack(v)[2]) for _, v in messages) == 1
