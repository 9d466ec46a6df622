"""Keyed messages: a batch's items grouped by key, a few messages per keyed partition, with
the marks of the events partitions they came from.

A message is `{"m": [[partition, time, idle], ...], "n": events partitions, "e": the
sender's consumer-group generation, "g": [[family, key, [row, ...]], ...]}`, at most
`max_bytes` long: each key's name crosses the topic once per batch, and its rows keep their
order across messages. When a batch needs several messages on one partition, all but the
last say so ("c": 1), and a key whose rows go on in a later one says so too (a fourth
element, 1): the fold of an earlier part must not close windows that rows still to come
fall in.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import NamedTuple

import orjson

from streams.detect.engine import Routed
from streams.detect.windowed import Item
from streams.watermarks import Mark

# Far below Kafka's default 1 MB message limit, whatever the rows hold.
MAX_BYTES = 512 * 1024


def partition_of(family: str, key: str, partitions: int) -> int:
    """Stable across processes (unlike hash()): the same key always lands on one partition."""
    return zlib.crc32(f"{family}|{key}".encode()) % partitions


def pack(routed: list[Routed], partitions: int, marks: dict[int, Mark], sources: int,
         max_bytes: int = MAX_BYTES, generation: int = 0) -> list[tuple[int, bytes]]:
    """(partition, message) pairs; every keyed partition gets at least one, so each learns
    how far event time has come even when this batch has nothing for it."""
    keyed: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for family, key, item in routed:
        keyed[(family, key)].append(item)
    parts: dict[int, list[bytes]] = defaultdict(list)
    for (family, key), items in keyed.items():
        head = orjson.dumps([family, key])[:-1] + b","
        body = orjson.dumps([list(i) for i in items])  # one call for the usual small group
        target = partition_of(family, key, partitions)
        if len(head) + len(body) + 1 <= max_bytes // 2:
            parts[target].append(head + body + b"]")
        else:
            parts[target].extend(_split(head, items, max_bytes // 2))
    prefix = b'{"m":' + orjson.dumps([[p, ts, idle] for p, (ts, idle) in marks.items()]) + (
        b',"n":%d,"e":%d,"g":[' % (sources, generation))
    more = prefix.replace(b'{"m":', b'{"c":1,"m":', 1)
    out = []
    for p in range(partitions):
        groups = parts.get(p, [])
        batch: list[bytes] = []
        size = len(more)
        for group in groups:
            if batch and size + len(group) + 2 > max_bytes:
                out.append((p, more + b",".join(batch) + b"]}"))
                batch, size = [], len(more)
            batch.append(group)
            size += len(group) + 1
        out.append((p, prefix + b",".join(batch) + b"]}"))
    return out


def _split(head: bytes, items: list[Item], limit: int) -> list[bytes]:
    """A key's rows as several groups of at most `limit` bytes each, in order."""
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = len(head) + 1
    for row in (orjson.dumps(list(i)) for i in items):
        if chunk and size + len(row) + 3 > limit:
            out.append(head + b"[" + b",".join(chunk) + b"],1]")  # more rows follow
            chunk, size = [], len(head) + 1
        chunk.append(row)
        size += len(row) + 1
    out.append(head + b"[" + b",".join(chunk) + b"]]")
    return out


class Keyed(NamedTuple):
    marks: dict[int, Mark]
    sources: int  # events partitions
    groups: dict[tuple[str, str], list[Item]]  # in the order they were routed
    generation: int  # the sender's consumer-group generation
    more: bool  # a later message of the same batch follows on this partition
    continued: set[tuple[str, str]]  # keys whose rows go on in it


def unpack(value: bytes) -> Keyed:
    doc = orjson.loads(value)
    marks = {p: (ts, idle) for p, ts, idle in doc["m"]}
    out: dict[tuple[str, str], list[Item]] = {}
    continued: set[tuple[str, str]] = set()
    make = Item._make
    for family, key, rows, *rest in doc["g"]:
        its = out.setdefault((family, key), [])
        its.extend(map(make, rows))
        if rest:
            continued.add((family, key))
        else:  # its last rows are in this message
            continued.discard((family, key))
    return Keyed(marks, doc["n"], out, doc.get("e", 0), bool(doc.get("c")), continued)
