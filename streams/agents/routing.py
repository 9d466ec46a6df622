"""Packing of keyed items: one message per keyed-topic partition per batch, not per call."""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import Any

import orjson

from streams.detect.engine import Routed
from streams.detect.windowed import Item


def partition_of(family: str, key: str, partitions: int) -> int:
    """Stable across processes (unlike hash()): the same key always lands on one partition."""
    return zlib.crc32(f"{family}|{key}".encode()) % partitions


def pack(routed: list[Routed], partitions: int) -> dict[int, bytes]:
    """Group routed items by partition, preserving each key's order."""
    groups: dict[int, list[list[Any]]] = defaultdict(list)
    for family, key, item in routed:
        groups[partition_of(family, key, partitions)].append([family, key, *item.pack()])
    return {p: orjson.dumps(rows) for p, rows in groups.items()}


def unpack(value: bytes) -> dict[tuple[str, str], list[Item]]:
    """Items per (family, key), in the order they were routed."""
    out: dict[tuple[str, str], list[Item]] = defaultdict(list)
    for row in orjson.loads(value):
        out[(row[0], row[1])].append(Item.unpack(row[2:]))
    return out
