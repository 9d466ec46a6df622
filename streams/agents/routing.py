"""Keyed messages: a batch's items grouped by key, a few messages per keyed partition, with
the marks of the events partitions they came from.

A message is a MessagePack array `[marks, events partitions, the sender's consumer-group
generation, more, groups]`: marks `[[partition, time, idle], ...]`, groups `[[family, key,
rows, continued], ...]`, each row an `Item` as an array, at most `max_bytes` long. Each key's
name crosses the topic once per batch, and its rows keep their order across messages. When
a batch needs several messages on one partition, all but the last say so (`more`), and a
key whose rows go on in a later one says so too (`continued`): the fold of an earlier part
must not close windows that rows still to come fall in. MessagePack rather than JSON: the
rows are decoded straight into `Item`s (msgspec), at half the cost of JSON and a tuple each.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import NamedTuple

import msgspec

from streams.detect.engine import Routed
from streams.detect.windowed import Item
from streams.watermarks import Mark

# Far below Kafka's default 1 MB message limit, whatever the rows hold.
MAX_BYTES = 512 * 1024


def partition_of(family: str, key: str, partitions: int) -> int:
    """Stable across processes (unlike hash()): the same key always lands on one partition."""
    return zlib.crc32(f"{family}|{key}".encode()) % partitions


_encode = msgspec.msgpack.Encoder().encode
# What an array's elements add to a message beyond their own bytes: its headers, at most.
HEADERS = 16


def pack(routed: list[Routed], partitions: int, marks: dict[int, Mark], sources: int,
         max_bytes: int = MAX_BYTES, generation: int = 0) -> list[tuple[int, bytes]]:
    """(partition, message) pairs; every keyed partition gets at least one, so each learns
    how far event time has come even when this batch has nothing for it. Groups are
    encoded once each and embedded as they are (`msgspec.Raw`), so a message's size is
    known before it is built."""
    keyed: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for family, key, item in routed:
        keyed[(family, key)].append(item)
    parts: dict[int, list[bytes]] = defaultdict(list)
    for (family, key), items in keyed.items():
        group = _encode((family, key, items, False))  # one call for the usual small group
        target = partition_of(family, key, partitions)
        if len(group) <= max_bytes // 2:
            parts[target].append(group)
        else:
            parts[target].extend(_split(family, key, items, max_bytes // 2))
    head = msgspec.Raw(_encode([[p, ts, idle] for p, (ts, idle) in marks.items()]))
    base = len(head) + HEADERS

    def message(more: bool, groups: list[bytes]) -> bytes:
        return _encode((head, sources, generation, more, [msgspec.Raw(g) for g in groups]))

    out = []
    for p in range(partitions):
        batch: list[bytes] = []
        size = base
        for group in parts.get(p, []):
            if batch and size + len(group) > max_bytes:
                out.append((p, message(True, batch)))
                batch, size = [], base
            batch.append(group)
            size += len(group)
        out.append((p, message(False, batch)))
    return out


def _split(family: str, key: str, items: list[Item], limit: int) -> list[bytes]:
    """A key's rows as several groups of at most `limit` bytes each, in order; all but the
    last say that more rows follow."""
    base = len(_encode(family)) + len(_encode(key)) + HEADERS
    out: list[bytes] = []
    chunk: list[msgspec.Raw] = []
    size = base
    for row in map(_encode, items):
        if chunk and size + len(row) > limit:
            out.append(_encode((family, key, chunk, True)))
            chunk, size = [], base
        chunk.append(msgspec.Raw(row))
        size += len(row)
    out.append(_encode((family, key, chunk, False)))
    return out


class Keyed(NamedTuple):
    marks: dict[int, Mark]
    sources: int  # events partitions
    groups: dict[tuple[str, str], list[Item]]  # in the order they were routed
    generation: int  # the sender's consumer-group generation
    more: bool  # a later message of the same batch follows on this partition
    continued: set[tuple[str, str]]  # keys whose rows go on in it


class _Message(msgspec.Struct, array_like=True):
    marks: list[tuple[int, float | None, bool]]
    sources: int
    generation: int
    more: bool
    groups: list[tuple[str, str, list[Item], bool]]


_decode = msgspec.msgpack.Decoder(_Message).decode


def unpack(value: bytes) -> Keyed:
    msg = _decode(value)
    out: dict[tuple[str, str], list[Item]] = {}
    continued: set[tuple[str, str]] = set()
    for family, key, rows, more_rows in msg.groups:
        out.setdefault((family, key), []).extend(rows)
        if more_rows:
            continued.add((family, key))
        else:  # its last rows are in this message
            continued.discard((family, key))
    marks = {p: (ts, idle) for p, ts, idle in msg.marks}
    return Keyed(marks, msg.sources, out, msg.generation, msg.more, continued)
