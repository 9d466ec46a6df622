"""Events in: validate, run per-call rules, dead-letter bad records, route keyed items."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import orjson
from faust.types import TP

from streams.agents.routing import pack, watermark_of
from streams.app import app, dlq_topic, engine, events_topic, keyed_topic, metrics, settings
from streams.detect.engine import Routed
from streams.events import BadRecord, DeadLetter, decode_message
from streams.metrics import reject_reason

log = logging.getLogger(__name__)


def dead_letter(bad: BadRecord, topic: str, partition: int, offset: int) -> bytes:
    raw = bad.raw if isinstance(bad.raw, bytes) else orjson.dumps(bad.raw)
    return DeadLetter(
        reason=bad.reason,
        original=raw.decode("utf-8", errors="replace"),
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        index_in_batch=bad.index,
        failed_at=datetime.now(tz=UTC),
    ).model_dump_json().encode()


# events partition -> (latest event time seen on it, monotonic time of its last message)
partition_time: dict[int, tuple[float, float]] = {}
# events partition -> monotonic time this worker first saw it assigned
assigned_at: dict[int, float] = {}
# events partition -> offset of the last message read
last_offset: dict[int, int] = {}


def low_watermark() -> float | None:
    """Event time every assigned events partition has reached: windows before it are done."""
    name = events_topic.get_topic_name()
    assigned = {tp.partition for tp in (app.consumer.assignment() if app.consumer else ())
                if tp.topic == name}
    now = time.monotonic()
    caught_up = set()
    for p in assigned:
        assigned_at.setdefault(p, now)
        high = app.consumer.highwater(TP(name, p))
        read = last_offset.get(p)
        if high is not None and read is not None and read + 1 >= high:
            caught_up.add(p)
    return watermark_of(partition_time, assigned_at, assigned, caught_up, now,
                        settings.idle_flush_s)


# trunks already warned about; capped so that garbage trunk names cannot grow it forever
warned_trunks: set[str] = set()
MAX_WARNED_TRUNKS = 100


def unmapped_trunk(trunk: str) -> None:
    """Count a call on a trunk of unknown kind, and name the trunk once in the log (a trunk
    name is network configuration, not personal data)."""
    metrics.unmapped_trunk.inc()
    if trunk not in warned_trunks and len(warned_trunks) < MAX_WARNED_TRUNKS:
        warned_trunks.add(trunk)
        log.warning("trunk %r is not in the policy's [trunks] and its records carry no "
                    "ingress_kind: its calls are read as national", trunk)


@app.agent(events_topic)
async def ingest(stream):  # type: ignore[no-untyped-def]
    async for batch in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        started = time.perf_counter()
        routed: list[Routed] = []
        n_events = 0
        last_ts = None
        for event in batch:
            msg = event.message
            last_offset[msg.partition] = msg.offset
            good, bad = decode_message(event.value or b"")
            n_events += len(good) + len(bad)
            for b in bad:
                metrics.rejected.labels(reason=reject_reason(b.reason)).inc()
                await dlq_topic.send(
                    key=f"{msg.topic}:{msg.partition}:{msg.offset}".encode(),
                    value=dead_letter(b, msg.topic, msg.partition, msg.offset),
                )
                metrics.dead_letters.inc()
            for cdr in good:
                routing = engine.route(cdr)
                routed.extend(routing.routed)
                for v in routing.verdicts:
                    metrics.verdicts.labels(rule=v.rule).inc()
                for v in routing.suppressed:
                    metrics.suppressed.labels(rule=v.rule).inc()
                if routing.call.caller.form == "anonymous":
                    metrics.withheld.inc()
                if not routing.call.trunk_known:
                    unmapped_trunk(cdr.ingress_trunk)
                last_ts = routing.call.ts
                if routing.call.ts > partition_time.get(msg.partition, (0.0, 0.0))[0]:
                    partition_time[msg.partition] = (routing.call.ts, time.monotonic())
            metrics.valid.inc(len(good))
        for partition, value in pack(routed, settings.partitions, low_watermark()):
            await keyed_topic.send(value=value, partition=partition)
        elapsed = time.perf_counter() - started
        metrics.messages.inc(len(batch))
        metrics.events.inc(n_events)
        metrics.batch_seconds.observe(elapsed)
        if n_events:
            metrics.event_seconds.observe(elapsed / n_events)
        if last_ts is not None:
            metrics.event_lag.set(time.time() - last_ts)
