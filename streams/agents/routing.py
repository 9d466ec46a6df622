"""Packing of keyed items: a few messages per keyed-topic partition per batch, not per call.

Each message also carries its sender's low watermark (the event time every events partition
it reads has reached) so the keyed side knows how far stream time has safely moved.
"""

from __future__ import annotations

import os
import socket
import zlib
from collections import defaultdict
from typing import Any

import orjson

from streams.detect.engine import Routed
from streams.detect.windowed import Item

SENDER = f"{socket.gethostname()}:{os.getpid()}"
# Rows per message: ~150 bytes each keeps a message far below Kafka's 1 MB default limit.
MAX_ROWS = 2000


def partition_of(family: str, key: str, partitions: int) -> int:
    """Stable across processes (unlike hash()): the same key always lands on one partition."""
    return zlib.crc32(f"{family}|{key}".encode()) % partitions


def pack(routed: list[Routed], partitions: int, watermark: float | None,
         sender: str = SENDER, max_rows: int = MAX_ROWS) -> list[tuple[int, bytes]]:
    """(partition, message) pairs; each key's items keep their order across messages.

    A message holds `[family, key, [row, ...]]` groups: a key's rows are folded together on
    the keyed side, and its name crosses the topic once per batch rather than once per call.
    """
    keyed: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for family, key, item in routed:
        keyed[(family, key)].append(item)
    parts: dict[int, list[list[Any]]] = defaultdict(list)
    for (family, key), its in keyed.items():
        parts[partition_of(family, key, partitions)].append([family, key, its])
    out = []
    for p, groups in parts.items():
        chunk: list[list[Any]] = []
        rows = 0
        for family, key, its in groups:
            for i in range(0, len(its), max_rows):
                part = its[i:i + max_rows]
                if chunk and rows + len(part) > max_rows:
                    out.append((p, _message(sender, watermark, chunk)))
                    chunk, rows = [], 0
                chunk.append([family, key, part])
                rows += len(part)
        if chunk:
            out.append((p, _message(sender, watermark, chunk)))
    return out


def _message(sender: str, watermark: float | None, groups: list[list[Any]]) -> bytes:
    # orjson refuses tuple subclasses: each Item becomes a plain list, one JSON array
    return orjson.dumps({"s": sender, "w": watermark,
                         "g": [[f, k, [list(i) for i in its]] for f, k, its in groups]})


def unpack(value: bytes) -> tuple[str, float | None, dict[tuple[str, str], list[Item]]]:
    """(sender, its watermark, items per (family, key) in the order they were routed)."""
    doc = orjson.loads(value)
    out: dict[tuple[str, str], list[Item]] = {}
    make = Item._make
    for family, key, rows in doc["g"]:
        its = out.setdefault((family, key), [])
        its.extend(map(make, rows))
    return doc["s"], doc["w"], out


def safe_time(heard: dict[str, tuple[float | None, float]], now: float,
              horizon_s: float) -> tuple[float | None, float]:
    """(safe event time of a keyed partition, wall-clock seconds since its last message).

    `heard` maps sender -> (its low watermark, when it last sent). The slowest sender heard
    within `horizon_s` sets the pace: windows close only where every ingest feeding this
    partition has passed them, so a lagging events partition is never overtaken.
    """
    recent = [w for w, at in heard.values() if now - at < horizon_s]
    marks = [w for w in recent if w is not None]
    last = max((at for _, at in heard.values()), default=now)
    return (min(marks) if marks and len(marks) == len(recent) else None), now - last


def watermark_of(seen: dict[int, tuple[float, float]], assigned_at: dict[int, float],
                 assigned: set[int], caught_up: set[int], now: float,
                 idle_s: float) -> float | None:
    """Low watermark of the events partitions one ingest reads.

    `seen` maps partition -> (latest event time, when it last delivered). A partition holds
    the watermark back until it is both silent for `idle_s` and read up to its high
    watermark (`caught_up`): only then is it idle rather than lagging behind a faster one.
    A partition never heard from holds it back for ten times `idle_s` after assignment
    (the client knows its high watermark only once it fetched from it, so an empty partition
    and one not fetched yet look alike). None: nothing can be closed yet.
    """
    marks = []
    for p in assigned:
        if p in seen:
            ts, at = seen[p]
            if now - at < idle_s or p not in caught_up:
                marks.append(ts)
        elif now - assigned_at.get(p, now) < 10 * idle_s:
            return None
    return min(marks) if marks else None
