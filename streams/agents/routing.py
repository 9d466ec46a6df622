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
    """(partition, message) pairs; each key's items keep their order across messages."""
    groups: dict[int, list[list[Any]]] = defaultdict(list)
    for family, key, item in routed:
        groups[partition_of(family, key, partitions)].append([family, key, *item.pack()])
    return [
        (p, orjson.dumps({"s": sender, "w": watermark, "rows": rows[i:i + max_rows]}))
        for p, rows in groups.items() for i in range(0, len(rows), max_rows)
    ]


def unpack(value: bytes) -> tuple[str, float | None, dict[tuple[str, str], list[Item]]]:
    """(sender, its watermark, items per (family, key) in the order they were routed)."""
    doc = orjson.loads(value)
    out: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for row in doc["rows"]:
        out[(row[0], row[1])].append(Item.unpack(row[2:]))
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
