"""Events in: validate, run per-call rules, dead-letter bad records, route keyed items.

Every keyed message carries the marks of the events partitions this worker reads (see
streams/watermarks.py); a timer sends them on their own while no events come, so keyed
windows close by event time however the input pauses, and never by wall-clock silence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

import orjson
from faust.types import TP

from streams.agents.delivery import deliver, handled
from streams.agents.routing import pack
from streams.app import (
    app,
    dlq_topic,
    engine,
    events_topic,
    keyed_topic,
    metrics,
    policy,
    settings,
)
from streams.detect.engine import Routed
from streams.detect.formats import Misfit
from streams.events import BadRecord, DeadLetter, TimeBounds, decode_message
from streams.metrics import reject_reason
from streams.watermarks import Mark, SourceMarks

log = logging.getLogger(__name__)
# A dead letter keeps at most this much of the original, so that it always fits a message.
MAX_ORIGINAL = 256 * 1024
# Index of a record inside its message: positions are offset * 2**20 + index.
POSITION_BITS = 20

marks = SourceMarks(idle_s=settings.idle_flush_s)
# events partition -> offset of the last message read
last_offset: dict[int, int] = {}
# A fetch response older than this says nothing of a partition's end (fetches return at
# least every fetch_max_wait_ms while a partition is fetched at all).
FRESH_FETCH_S = 2.0


def dead_letter(bad: BadRecord, topic: str, partition: int, offset: int) -> bytes:
    raw = bad.raw if isinstance(bad.raw, bytes) else orjson.dumps(bad.raw)
    original = raw[:MAX_ORIGINAL].decode("utf-8", errors="replace")
    if len(raw) > MAX_ORIGINAL:
        original += f"... [{len(raw) - MAX_ORIGINAL} more bytes cut]"
    return DeadLetter(
        reason=bad.reason[:1000],
        original=original,
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        index_in_batch=bad.index,
        failed_at=datetime.now(tz=UTC),
    ).model_dump_json().encode()


async def reject(bad: BadRecord, topic: str, partition: int, offset: int) -> None:
    metrics.rejected.labels(reason=reject_reason(bad.reason)).inc()
    value = dead_letter(bad, topic, partition, offset)
    await deliver("dead letter", [lambda: dlq_topic.send(
        key=f"{topic}:{partition}:{offset}".encode(), value=value)])
    metrics.dead_letters.inc()


def partitions(topic: str) -> int:
    """The topic's real partition count (from the broker's metadata), not a setting."""
    known = app.consumer.topic_partitions(topic) if app.consumer else None
    return known or settings.partitions


def fetched(tp: TP) -> tuple[int | None, float]:
    """(high watermark of the last fetch response for `tp`, seconds since it came).

    From aiokafka's own partition state: a partition Faust paused (its buffer full) or one
    not fetched during a rebalance has an old response, so its backlog never looks like
    its end."""
    try:
        consumer = app.consumer._thread._ensure_consumer()  # type: ignore[union-attr]
        state = consumer._subscription.subscription.assignment.state_value(tp)
        return state.highwater, time.time() - state.timestamp / 1000
    except Exception:  # no assignment yet, a rebalance: nothing known
        return None, float("inf")


def current_marks(source: SourceMarks, offsets: dict[int, int]) -> dict[int, Mark]:
    name = events_topic.get_topic_name()
    consumer = app.consumer
    assigned = {tp.partition for tp in (consumer.assignment() if consumer else ())
                if tp.topic == name}
    caught_up = set()
    for p in assigned:
        tp = TP(name, p)
        high, age = fetched(tp)
        if high is None or age > FRESH_FETCH_S:
            continue
        read = offsets.get(p)
        # Faust's record of the committed offset: where a partition never read here starts
        done = read + 1 if read is not None else consumer._committed_offset.get(tp) or 0
        if done >= high:
            caught_up.add(p)
    return source.marks(assigned, caught_up, time.monotonic())


# Read progress of a batch: events partition -> (offset of its last message, latest event
# time or watermark read in it, or None)
Progress = dict[int, tuple[int, float | None]]
def moved(progress: Progress, partition: int, offset: int, *times: float | None) -> None:
    """Note a message read: its offset, and the latest event time the batch has seen on its
    partition (a message without one keeps what earlier messages brought)."""
    before = progress.get(partition, (0, None))[1]
    latest = max((t for t in (before, *times) if t is not None), default=None)
    progress[partition] = (offset, latest)


# One shipment at a time: a batch's marks must never reach a keyed partition before its items.
_shipping = asyncio.Lock()
# The marks last sent to every keyed partition; None: send them again (a keyed partition
# may have a new owner, whose watermark starts from nothing).
_sent: dict[int, Mark] | None = None


async def ship(routed: list[Routed], progress: Progress | None = None) -> None:
    """Send a batch's keyed items with the marks it moved on. The batch's progress enters
    the marks only here, under the lock, and only once its items are delivered: neither a
    heartbeat in between nor one after a send cut short (a SIGTERM) can announce event time
    whose calls are not on the keyed topic. With nothing to route (the timer), marks are
    sent only when they changed since the last send or a rebalance: an idle worker writes
    nothing, so its keyed lag settles at 0."""
    global _sent
    async with _shipping:
        now = time.monotonic()
        after, offsets = marks.copy(), dict(last_offset)
        for p, (offset, ts) in (progress or {}).items():
            offsets[p] = offset
            if ts is None:
                after.heard_from(p, now)
            else:
                after.saw(p, ts, now)
        found = current_marks(after, offsets)
        if not routed and progress is None and found == _sent:
            return
        sources = partitions(events_topic.get_topic_name())
        packed = pack(routed, partitions(keyed_topic.get_topic_name()), found, sources,
                      generation=app.consumer_generation_id)
        await deliver("keyed message", [lambda p=partition, v=value: keyed_topic.send(
            value=v, partition=p) for partition, value in packed])
        marks.absorb(after)
        last_offset.update(offsets)
        _sent = found


def unmapped_trunk(trunk: str) -> None:
    """Count a call on a trunk of unknown kind, and name the trunk once in the log (a trunk
    name is network configuration, not personal data)."""
    metrics.unmapped_trunk.inc()
    if trunk not in warned_trunks and len(warned_trunks) < MAX_WARNED_TRUNKS:
        warned_trunks.add(trunk)
        log.warning("trunk %r is not in the policy's [trunks] and its records carry no "
                    "ingress_kind: its calls are read as national", trunk)


def misdeclared(misfit: Misfit) -> None:
    """A trunk's numbers fit another format (or none): one gauge and one WARNING per trunk
    (the check judges each trunk once; it names trunks and formats, never a number)."""
    metrics.misdeclared_format.labels(trunk=misfit.trunk, declared=misfit.declared,
                                      format=misfit.better or "none").set(1)
    log.warning("%s", misfit.sentence())


# trunks already warned about; capped so that garbage trunk names cannot grow it forever
warned_trunks: set[str] = set()
MAX_WARNED_TRUNKS = 100


async def take(msg: Any, value: bytes, bounds: TimeBounds, routed: list[Routed],
               progress: Progress) -> int:
    """One message: its calls routed into `routed`, its bad records dead-lettered, how far
    it moved its partition in `progress`; the number of records it held."""
    decoded = decode_message(value, bounds)
    for b in decoded.bad:
        await reject(b, msg.topic, msg.partition, msg.offset)
    newest: float | None = None  # latest call in the message
    base = msg.offset << POSITION_BITS
    for i, cdr in enumerate(decoded.events):
        routing = engine.route(cdr, msg.partition, base + i)
        routed.extend(routing.routed)
        for v in routing.verdicts:
            metrics.verdicts.labels(rule=v.rule).inc()
        for v in routing.suppressed:
            metrics.suppressed.labels(rule=v.rule).inc()
        if routing.call.caller.form == "anonymous":
            metrics.withheld.inc()
        if not routing.call.trunk_known:
            unmapped_trunk(cdr.ingress_trunk)
        if routing.misfit is not None:
            misdeclared(routing.misfit)
        newest = routing.call.ts if newest is None else max(newest, routing.call.ts)
    if newest is not None:
        metrics.event_lag.set(time.time() - newest)
    moved(progress, msg.partition, msg.offset, newest, decoded.watermark)
    metrics.valid.inc(len(decoded.events))
    return len(decoded.events) + len(decoded.bad)


@app.agent(events_topic)
async def ingest(stream):  # type: ignore[no-untyped-def]
    async for batch in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        started = time.perf_counter()
        bounds = TimeBounds.around(time.time(), policy.stream.max_future_s,
                                   policy.stream.max_past_days)
        routed: list[Routed] = []
        progress: Progress = {}
        n_events = 0
        for event in batch:
            msg = event.message
            size = len(routed)
            try:
                n_events += await take(msg, event.value or b"", bounds, routed, progress)
            except Exception as exc:  # a bug must cost one message, never the batch
                del routed[size:]
                metrics.internal_errors.labels(where="ingest").inc()
                log.warning("message %s:%d:%d dead-lettered: %s", msg.topic, msg.partition,
                            msg.offset, type(exc).__name__)
                await reject(BadRecord(f"internal: {type(exc).__name__}: {exc}",
                                       event.value or b""), msg.topic, msg.partition, msg.offset)
                moved(progress, msg.partition, msg.offset)
        await ship(routed, progress)
        handled(batch)
        elapsed = time.perf_counter() - started
        metrics.messages.inc(len(batch))
        metrics.events.inc(n_events)
        metrics.batch_seconds.observe(elapsed)
        if n_events:
            metrics.event_seconds.observe(elapsed / n_events)


@app.timer(interval=settings.flush_interval_s)
async def send_marks() -> None:
    """While no events come, tell every keyed partition how far event time has come (and
    which partitions went idle), so their windows keep closing by event time."""
    try:
        name = events_topic.get_topic_name()
        tps = [tp for tp in (app.consumer.assignment() if app.consumer else ()) if tp.topic == name]
        if app.rebalancing or app.in_recovery:
            now = time.monotonic()  # fetching is paused: that is not a partition's silence
            for tp in tps:
                marks.heard_from(tp.partition, now)
            return
        if tps:
            await ship([])
    except Exception as exc:
        metrics.internal_errors.labels(where="timer").inc()
        log.warning("marks not sent: %s", type(exc).__name__)


@app.on_partitions_assigned.connect
async def _resend_marks(app_: Any, assigned: set[Any], **_: Any) -> None:
    global _sent
    _sent = None
