"""Keyed items in: fold them into their key's state, close windows at the watermark, publish.

State lives in `states` (streams/detect/keyed.py, the same store the offline mode uses); the
changelog-backed table is its durable copy: each changed key is written once per write round,
and after a restart or a rebalance the keys Faust restored are adopted (and swept by the
watermark like any other), so incidents opened before resolve after.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.agents.continuity import watch
from streams.agents.delivery import backoff, deliver, enqueue, handled
from streams.agents.feedback import unsuppressed, unsuppressed_verdicts
from streams.agents.ingest import reject
from streams.agents.routing import partition_of, unpack
from streams.app import (
    alerts_topic,
    app,
    engine,
    incident_ids,
    keyed_topic,
    metrics,
    policy,
    privacy,
    settings,
    state_table,
    verdicts_topic,
    warn_topic,
)
from streams.detect.baseline import read, seeds
from streams.detect.keyed import KeyedStates
from streams.detect.windowed import Covered, FoldStats
from streams.events import Alert, BadRecord, dump_alert
from streams.verdicts import call_verdict, verdict_line
from streams.warnings import candidate
from streams.watermarks import Watermark

log = logging.getLogger(__name__)
CHANGELOG = state_table.changelog_topic.get_topic_name()

def _seeds() -> dict[tuple[str, str], bytes] | None:
    """A warm start's learned states (checked by `cdrwatch worker` before Faust starts)."""
    if settings.baseline is None:
        return None
    return seeds(read(settings.baseline), engine.families, policy.home_country)[0]


states = KeyedStates(engine.families, policy.stream.baseline_ttl_s, seeds=_seeds())
clocks: dict[int, Watermark] = {}  # keyed partition -> its watermark
# family -> (late, duplicates, redelivered, unmarked, unjudged) as last counted
_counted: dict[str, tuple[int, ...]] = {}


def owned() -> set[int]:
    name = keyed_topic.get_topic_name()
    return {tp.partition for tp in (app.consumer.assignment() if app.consumer else ())
            if tp.topic == name}


def adopt_restored() -> None:
    """After a rebalance, take over the states Faust restored for the keyed partitions this
    worker now owns. The table's data stays a full mirror of the changelog (Faust keeps
    standby copies in it and, on promotion, reads only the changelog's tail), so nothing is
    removed from it here."""
    global _pending_adoption, _quiet_scans
    if app.rebalancing or app.in_recovery or (not _pending_adoption and (
            _quiet_scans >= QUIET_SCANS or time.monotonic() < _next_scan)):
        return
    mine = owned()
    total = app.consumer.topic_partitions(keyed_topic.get_topic_name()) or len(mine)
    held = len(states)
    for fk_text, raw in list(state_table.data.items()):
        family, key = fk_text.split("|", 1)
        if family not in engine.families or raw is None:
            continue  # a family the policy no longer runs: its state is not used
        partition = partition_of(family, key, total)
        if partition in mine and states.restorable((family, key)):
            states.adopt((family, key), raw, partition)
    _quiet_scans = 0 if len(states) > held else _quiet_scans + 1
    _pending_adoption = False
    _schedule_scan()


def _schedule_scan() -> None:
    """Keys that get no more calls are adopted by a scan: right after a rebalance, and
    again every ADOPT_SCAN_S until QUIET_SCANS scans in a row found nothing new (Faust's
    recovery may still be filling the table when the first scan runs; a key that gets a
    call is adopted at once, in handle()). A scan reads the whole table: repeated for
    ever, it held the fold lock for up to 8 s at a time at two million keys."""
    global _next_scan
    _next_scan = time.monotonic() + ADOPT_SCAN_S


ADOPT_SCAN_S = 10.0
QUIET_SCANS = 3
_pending_adoption = True
_quiet_scans = 0
_next_scan = 0.0


async def publish(alerts: list[Alert], covered: list[Covered]) -> None:
    """Publish the alerts, then the verdicts of the calls incidents came to cover, and wait
    until the broker has them: only then may state that says they were emitted reach the
    changelog (else a crash in between could lose them).

    Cancelled halfway (a SIGTERM), the states hold a fold whose records are not all on the
    broker, and a write round still pending would put them on the changelog as done: the
    next reader would skip those calls as already folded (a second-worker run lost 84
    warning candidates so, its verdicts all there). So no state is written after that."""
    global _sealed
    try:
        await _publish(alerts, covered)
    except asyncio.CancelledError:
        _sealed = True
        raise


async def _publish(alerts: list[Alert], covered: list[Covered]) -> None:
    now = datetime.now(tz=UTC)
    alerts = [privacy(alert) for alert in alerts]  # the one way out: pseudonyms if asked
    alerts = unsuppressed(alerts)  # an analyst's false alarm may silence its key a while
    sends = []
    for alert in alerts:
        value = dump_alert(alert.model_copy(update={"emitted_at": now}))
        sends.append(lambda a=alert, v=value: alerts_topic.send(key=a.alert_id.encode(),
                                                                 value=v))
    await deliver("alert", sends)
    for alert in alerts:
        metrics.alerts.labels(alert.detector, alert.severity, alert.status).inc()
        log.info("alert %s %s %s", alert.detector, alert.status, alert.alert_id)
    region = policy.home_country
    verdicts = unsuppressed_verdicts([call_verdict(c, region, incident_ids) for c in covered])
    await deliver("verdict", [
        lambda v=v: verdicts_topic.send(key=v.record_id.encode(), value=verdict_line(v))
        for v in verdicts])
    for v in verdicts:
        metrics.covered.labels(detector=v.detector).inc()
    if policy.actions.warn:  # each subscriber's book sits on the partition of its key
        candidates = [v for v in verdicts if candidate(v, policy)]
        metrics.warnings.labels(outcome="short_call").inc(len(verdicts) - len(candidates))
        await deliver("warning candidate", [
            lambda v=v: warn_topic.send(key=v.subscriber.encode(), value=verdict_line(v))
            for v in candidates])


Write = tuple[tuple[str, str], int, Awaitable[Any]]  # (family, key), partition, delivery


async def write_changed(only: list[tuple[str, str]] | None = None) -> list[Write]:
    """Enqueue a changelog write of each changed durable key (None: a tombstone for a
    forgotten key); the caller waits for them with `settle` before acking what changed it."""
    writes: list[Write] = []
    if _sealed:  # a publish was cancelled: what the states hold is not all delivered
        return writes
    for (family, key), value, partition in states.drain(only):
        if value is None:
            state_table.data.pop(f"{family}|{key}", None)
        else:
            state_table.data[f"{family}|{key}"] = value
        fk = orjson.dumps(f"{family}|{key}")
        future = await enqueue("changelog write", lambda k=fk, v=value, p=partition:
                               app.producer.send(CHANGELOG, k, v, p, None, None))
        writes.append(((family, key), partition, future))
    return writes


async def settle(writes: list[Write]) -> None:
    """Until the changelog has every write: a key whose write failed is written again with
    its current state (a later state of it must not be overwritten by an older one)."""
    delay = 0.1
    while writes:
        results = await asyncio.gather(*(f for *_, f in writes), return_exceptions=True)
        errors = [(fk, p, r) for (fk, p, _), r in zip(writes, results, strict=True)
                  if isinstance(r, BaseException)]
        if not errors:
            return
        delay = await backoff("changelog write", errors[0][2], delay)
        async with _folding:
            for fk, partition, _ in errors:
                states.rewrite(fk, partition)
            writes = await write_changed([fk for fk, *_ in errors])


_sealed = False  # set once a publish was cancelled: no state is written after it
# Folded events whose changes no write round has written yet: acked once one has.
_unwritten: list[Any] = []
_rounds: asyncio.Task[None] | None = None


async def write_round() -> None:
    """Write every changed key once, then ack the events whose changes that wrote."""
    async with _folding:
        if _sealed:  # their changes will never be written: they stay unacked
            return
        events = _unwritten[:]
        _unwritten.clear()
        writes = await write_changed()
    await settle(writes)
    handled(events)


async def _write_rounds() -> None:
    """Changes gather for `state_write_interval_s` before a round writes each changed key
    once: a campaign's key, changed by nearly every message, is written once a round."""
    while True:
        await asyncio.sleep(settings.state_write_interval_s)
        try:
            await write_round()
        except Exception as exc:  # its events stay unacked: their partition is read again
            metrics.internal_errors.labels(where="write round").inc()
            log.warning("state write round failed: %s", type(exc).__name__)
        if not _unwritten or _sealed:
            return


def round_soon() -> None:
    """A write round within the interval, unless one is on its way already."""
    global _rounds
    if _rounds is None or _rounds.done():
        _rounds = asyncio.ensure_future(_write_rounds())


def _written_later(event: Any) -> None:
    _unwritten.append(event)
    round_soon()


def count(stats: dict[str, FoldStats]) -> None:
    for family, s in stats.items():
        before = _counted.get(family, (0, 0, 0, 0, 0))
        now = (s.late, s.duplicates, s.redelivered, s.unmarked, s.unjudged)
        if now != before:
            metrics.late.labels(family=family).inc(now[0] - before[0])
            metrics.duplicates.labels(family=family).inc(now[1] - before[1])
            metrics.redelivered.labels(family=family).inc(now[2] - before[2])
            metrics.unmarked.labels(family=family).inc(now[3] - before[3])
            metrics.unjudged.labels(family=family).inc(now[4] - before[4])
            _counted[family] = now


def observe_country(groups: Any) -> None:
    for family, key in groups:
        if family != "burst_country":
            continue
        state = states.get((family, key))
        if state is not None and state.windows:
            current = state.windows[max(state.windows)]
            metrics.window_calls.labels(country_code=key).set(current.n)
            metrics.window_baseline.labels(country_code=key).set(current.base or 0)


# One fold at a time: the timer's sweep and write must not run between a message's fold and
# the delivery of its alerts (a state saying "emitted" would reach the changelog first).
_folding = asyncio.Lock()


async def handle(partition: int, value: bytes) -> None:
    async with _folding:
        adopt_restored()
        found, sources, groups, generation, more, continued = unpack(value)
        clock = clocks.setdefault(partition, Watermark())
        if more:  # the batch goes on in the next message: the watermark moves only there
            wm = copy.deepcopy(clock).update(found, sources, generation)
        else:
            wm = clock.update(found, sources, generation)
        alerts: list[Alert] = []
        for (family, key), items in groups.items():
            if family in engine.families:
                if states.restorable((family, key)):
                    raw = state_table.data.get(f"{family}|{key}")
                    if raw is not None:  # restored from the changelog, not adopted yet
                        states.adopt((family, key), raw, partition)
                alerts += states.fold(family, key, items,
                                      None if (family, key) in continued else wm, partition)
        if wm is not None and not more:
            alerts += states.sweep(partition, wm)
            metrics.watermark.labels(partition=str(partition)).set(wm)
        await publish(alerts, states.take_covered())
        count(states.stats)
        observe_country(groups)


@app.agent(keyed_topic)
async def keyed(stream):  # type: ignore[no-untyped-def]
    # Faust's compiled stream loop acks a message itself, past the worker's consumer, as
    # soon as the agent moves on: a keyed partition was committed before the write round
    # carrying its state reached the changelog. The agent lets go of each message here
    # instead, and the consumer commits it once it is also handled.
    stream.enable_acks = False
    async for event in stream.events():
        watch(event)
        msg = event.message
        revision = states.revision
        try:
            await handle(msg.partition, event.value)
        except Exception as exc:  # one message lost to a bug goes to the dead letters
            metrics.internal_errors.labels(where="keyed").inc()
            log.warning("keyed message %s:%d:%d dead-lettered: %s", msg.topic, msg.partition,
                        msg.offset, type(exc).__name__)
            await reject(BadRecord(f"internal: {type(exc).__name__}: {exc}", event.value),
                         msg.topic, msg.partition, msg.offset)
            handled([event])
        else:
            if states.revision == revision:  # nothing durable changed: nothing to wait for
                handled([event])
            else:  # acked once a round has written what it changed; folding goes on
                _written_later(event)
        await stream.ack(event)


@app.on_partitions_assigned.connect
async def _assigned(app_: Any, assigned: set[Any], **_: Any) -> None:
    """Let go of the keys of keyed partitions this worker no longer owns. On assignment,
    not on revocation: a rebalance revokes every partition first, and a partition kept
    through it keeps its live state (Faust does not restore it again)."""
    global _pending_adoption, _quiet_scans
    _pending_adoption, _quiet_scans = True, 0
    name = keyed_topic.get_topic_name()
    kept = {tp.partition for tp in assigned if tp.topic == name}
    gone = set(states.partition.values()) - kept
    states.release(gone)  # their changes are not written: their events are read again
    _unwritten[:] = [e for e in _unwritten if e.message.partition in kept]
    for p in set(clocks) - kept:
        del clocks[p]


@app.timer(interval=1.0)
async def upkeep() -> None:
    """Adopt restored keys and sweep them even before the next keyed message; gauges.

    Never while a rebalance or a changelog recovery runs: a state read half restored
    would be adopted stale, and a write after another worker's recovery would be lost.
    """
    if app.rebalancing or app.in_recovery:
        return
    try:
        async with _folding:
            adopt_restored()
            alerts: list[Alert] = []
            for partition, clock in clocks.items():
                if clock.value is not None:
                    alerts += states.sweep(partition, clock.value)
            await publish(alerts, states.take_covered())
        round_soon()  # what the sweep changed
        opened = states.open_incidents()
        for detector in engine.families:
            metrics.open_alerts.labels(detector=detector).set(opened.get(detector, 0))
        durable = sum(n for f, n in states.held.items() if engine.families[f].durable)
        metrics.table_keys.labels(table="keyed-state").set(durable)
        metrics.table_keys.labels(table="volatile").set(len(states) - durable)
    except Exception as exc:
        metrics.internal_errors.labels(where="timer").inc()
        log.warning("keyed upkeep failed: %s", type(exc).__name__)

