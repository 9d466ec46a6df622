"""Fixture files (JSONL, CSV with a header) read as the Kafka messages production would send,
and replayed into the events topic, fast or at N times real time by event time; each file
ends with a watermark on every partition, so that its last windows close without waiting."""

from __future__ import annotations

import csv
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaProducer
from tqdm import tqdm

from streams.events import BadRecord, CallEvent, TimeBounds, decode_message, watermark_message

_CSV_FLOATS = {"duration_s"}
_CSV_INTS = {"release_cause"}
_CSV_BOOLS = {"answered", "calling_roaming"}


@dataclass(frozen=True, slots=True)
class Line:
    """One message to send: its bytes, where it came from, its event time if it parses, and
    its time if it is a watermark message."""

    source: str
    line_no: int
    value: bytes
    event_ts: float | None
    error: str | None
    events: list[CallEvent]
    bad: list[BadRecord]
    watermark: float | None = None


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


def read_messages(paths: list[Path], bounds: TimeBounds | None = None) -> Iterator[Line]:
    """Each non-empty line (CSV row) as a message; arrays stay one micro-batch message.

    `bounds` (None: any time) rejects event times as the worker would.
    """
    for path in paths:
        for line_no, value in _raw_lines(path):
            good, bad, mark = decode_message(value, bounds)
            error = "; ".join(b.reason for b in bad) or None
            ts = min(e.start_time.timestamp() for e in good) if good else None
            yield Line(str(path), line_no, value, ts, error, good, bad, mark)


@dataclass
class ReplayReport:
    sent: int = 0
    skipped: int = 0
    invalid: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0
    watermarks: int = 0  # watermark messages sent at the ends of files, not counted in `sent`
    last_watermark: float | None = None  # the event time the last of them said was complete


def _send_watermark(producer: KafkaProducer, topic: str, ts: float) -> int:
    """One watermark to every partition, after every record before it has been acknowledged:
    a retried batch must not land behind the watermark that says it is in."""
    producer.flush()
    partitions = sorted(producer.partitions_for(topic) or ())
    value = watermark_message(ts)
    for partition in partitions:
        producer.send(topic, value=value, partition=partition)
    return len(partitions)


@dataclass
class _Pacer:
    """Sleeps until each event is due at `speed` times real time from the first one sent."""

    speed: float
    started: float
    stop: threading.Event
    first_ts: float | None = None

    def wait(self, event_ts: float) -> None:
        self.first_ts = event_ts if self.first_ts is None else self.first_ts
        due = self.started + (event_ts - self.first_ts) / self.speed
        wait = due - time.monotonic()  # read the clock once: it moves on meanwhile
        if wait > 0:
            self.stop.wait(wait)


def _send_file(producer: KafkaProducer, topic: str, path: Path, report: ReplayReport,
               skip_invalid: bool, pacer: _Pacer | None, bar: tqdm,
               bounds: TimeBounds | None, stop: threading.Event) -> float | None:
    """Every line of one file, until `stop`; returns the latest start_time sent (None: no valid
    record)."""
    latest: float | None = None
    for line in read_messages([path], bounds):
        if stop.is_set():
            break
        bar.update()
        if line.error:
            report.invalid.append((line.source, line.line_no, line.error))
            if skip_invalid:
                report.skipped += 1
                continue
        if pacer and line.event_ts is not None:
            pacer.wait(line.event_ts)
        producer.send(topic, value=line.value)
        report.sent += 1
        for event in line.events:
            ts = event.start_time.timestamp()
            latest = ts if latest is None or ts > latest else latest
    return latest


def replay(paths: list[Path], bootstrap: list[str] | str, topic: str, speed: float | None = None,
           skip_invalid: bool = False, progress: bool | None = None,
           end_of_data: bool = False, close_after_s: int = 0,
           bounds: TimeBounds | None = None, report: ReplayReport | None = None,
           stop: threading.Event | None = None,
           security: Mapping[str, Any] | None = None) -> ReplayReport:
    """Produce every line; `speed` paces by event time (None: as fast as possible).

    After each file with a valid record sent, every partition gets a watermark at the file's
    latest start_time (files are read as consecutive stretches of time: a record earlier than
    a previous file's watermark is late). With `end_of_data` the last file's watermark is
    instead the latest start_time of all files plus `close_after_s` (the longest window plus
    its lateness), which closes every window. `bounds` reports the records the worker will
    refuse as invalid, and keeps them out of the watermarks. `report` is filled as it goes (a
    caller reads it while the replay runs); `stop` ends the replay early, its producer closed.
    `security`: streams.security.kafka_python_kwargs of the settings in use (None: plaintext).
    """
    report = ReplayReport() if report is None else report
    stop = threading.Event() if stop is None else stop
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, acks=1,
                             batch_size=256 * 1024, **(security or {}))
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    pacer = _Pacer(speed, started, stop) if speed else None
    latest: float | None = None  # over every file, for the end-of-data watermark
    try:
        with tqdm(unit="msg", disable=not show, desc="replay") as bar:
            for n, path in enumerate(paths, start=1):
                file_latest = _send_file(producer, topic, path, report, skip_invalid, pacer, bar,
                                         bounds, stop)
                if stop.is_set():
                    break
                if file_latest is not None:
                    latest = file_latest if latest is None else max(latest, file_latest)
                if end_of_data and n == len(paths) and latest is not None:
                    mark: float | None = latest + close_after_s
                else:
                    mark = file_latest
                if mark is not None:
                    report.watermarks += _send_watermark(producer, topic, mark)
                    report.last_watermark = mark
        producer.flush()
    finally:
        producer.close()
    report.seconds = time.monotonic() - started
    return report
