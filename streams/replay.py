"""Fixture files (JSONL, CSV with a header) read as the Kafka messages production would send,
and replayed into the events topic, fast or at N times real time by event time."""

from __future__ import annotations

import csv
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaProducer
from tqdm import tqdm

from streams.events import BadRecord, CallEvent, decode_message

_CSV_FLOATS = {"duration_s"}
_CSV_INTS = {"release_cause"}
_CSV_BOOLS = {"answered", "calling_roaming"}


@dataclass(frozen=True, slots=True)
class Line:
    """One message to send: its bytes, where it came from, its event time if it parses."""

    source: str
    line_no: int
    value: bytes
    event_ts: float | None
    error: str | None
    events: list[CallEvent]
    bad: list[BadRecord]


def _csv_value(name: str, text: str) -> object:
    if name in _CSV_BOOLS:
        low = text.strip().lower()
        return low in ("1", "true", "yes", "y", "t") if low else None
    if name in _CSV_FLOATS | _CSV_INTS:
        try:
            return (float if name in _CSV_FLOATS else int)(text)
        except ValueError:
            return text  # left as is: validation names the field
    return text


def _raw_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                record = {k: _csv_value(k, v) for k, v in row.items() if k and v not in ("", None)}
                yield reader.line_num, orjson.dumps(record)
        return
    with path.open("rb") as fh:
        for no, raw in enumerate(fh, start=1):
            text = raw.strip()
            if text:
                yield no, text


def read_messages(paths: list[Path]) -> Iterator[Line]:
    """Each non-empty line (CSV row) as a message; arrays stay one micro-batch message."""
    for path in paths:
        for line_no, value in _raw_lines(path):
            good, bad = decode_message(value)
            error = "; ".join(b.reason for b in bad) or None
            ts = min(e.start_time.timestamp() for e in good) if good else None
            yield Line(str(path), line_no, value, ts, error, good, bad)


@dataclass
class ReplayReport:
    sent: int = 0
    skipped: int = 0
    invalid: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0


def replay(paths: list[Path], bootstrap: list[str] | str, topic: str, speed: float | None = None,
           skip_invalid: bool = False, progress: bool | None = None) -> ReplayReport:
    """Produce every line; `speed` paces by event time (None: as fast as possible)."""
    report = ReplayReport()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, acks=1,
                             batch_size=256 * 1024)
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    first_ts: float | None = None
    try:
        for line in tqdm(read_messages(paths), unit="msg", disable=not show, desc="replay"):
            if line.error:
                report.invalid.append((line.source, line.line_no, line.error))
                if skip_invalid:
                    report.skipped += 1
                    continue
            if speed and line.event_ts is not None:
                first_ts = line.event_ts if first_ts is None else first_ts
                due = started + (line.event_ts - first_ts) / speed
                wait = due - time.monotonic()  # read the clock once: it moves on meanwhile
                if wait > 0:
                    time.sleep(wait)
            producer.send(topic, value=line.value)
            report.sent += 1
        producer.flush()
    finally:
        producer.close()
    report.seconds = time.monotonic() - started
    return report
