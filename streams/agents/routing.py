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


def _array(n: int) -> bytes:
    """The header of a MessagePack array of `n` elements."""
    if n < 16:
        return bytes((0x90 | n,))
    return (b"\xdc" + n.to_bytes(2, "big")) if n < 1 << 16 else (b"\xdd" + n.to_bytes(4, "big"))


_encode = msgspec.msgpack.Encoder().encode
_TRUE, _FALSE = _encode(True), _encode(False)


def pack(routed: list[Routed], partitions: int, marks: dict[int, Mark], sources: int,
         max_bytes: int = MAX_BYTES, generation: int = 0) -> list[tuple[int, bytes]]:
    """(partition, message) pairs; every keyed partition gets at least one, so each learns
    how far event time has come even when this batch has nothing for it."""
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
    head = _encode([[p, ts, idle] for p, (ts, idle) in marks.items()]) + _encode(sources) + (
        _encode(generation))
    out = []
    for p in range(partitions):
        batch: list[bytes] = []
        size = len(head) + 16  # headers
        for group in parts.get(p, []):
            if batch and size + len(group) > max_bytes:
                out.append((p, _message(head, True, batch)))
                batch, size = [], len(head) + 16
            batch.append(group)
            size += len(group)
        out.append((p, _message(head, False, batch)))
    return out


def _message(head: bytes, more: bool, groups: list[bytes]) -> bytes:
    return b"".join((_array(5), head, _TRUE if more else _FALSE, _array(len(groups)), *groups))


def _split(family: str, key: str, items: list[Item], limit: int) -> list[bytes]:
    """A key's rows as several groups of at most `limit` bytes each, in order; all but the
    last say that more rows follow."""
    name = _array(4) + _encode(family) + _encode(key)
    out: list[bytes] = []
    chunk: list[bytes] = []
    size = len(name) + 8
    for row in map(_encode, items):
        if chunk and size + len(row) > limit:
            out.append(b"".join((name, _array(len(chunk)), *chunk, _TRUE)))
            chunk, size = [], len(name) + 8
        chunk.append(row)
        size += len(row)
    out.append(b"".join((name, _array(len(chunk)), *chunk, _FALSE)))
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
