"""Keyed items in: fold them into the table state of their key, publish alerts."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import orjson
from faust.types import TP

from streams.agents.routing import safe_time, unpack
from streams.app import alerts_topic, app, engine, keyed_topic, metrics, settings, state_table
from streams.detect.windowed import State, is_idle
from streams.events import Alert, dump_alert

log = logging.getLogger(__name__)
CHANGELOG = state_table.changelog_topic.get_topic_name()

# family|key -> (monotonic time of its last call, keyed-topic partition), for the idle flush;
# in order of last call.
touched: dict[str, tuple[float, int]] = {}
# family|key -> state of the families that are not durable (see Family.durable)
volatile: dict[str, State] = {}
# keyed-topic partition -> sender -> (its low watermark, monotonic time of its last message)
senders: dict[int, dict[str, tuple[float | None, float]]] = {}


async def publish(alerts: list[Alert]) -> None:
    now = datetime.now(tz=UTC)
    for alert in alerts:
        stamped = alert.model_copy(update={"emitted_at": now})
        await alerts_topic.send(key=alert.alert_id.encode(), value=dump_alert(stamped))
        metrics.alerts.labels(alert.detector, alert.severity, alert.status).inc()
        if alert.status == "open":
            metrics.open_alerts.labels(alert.detector).inc()
        elif alert.status == "resolved":
            metrics.open_alerts.labels(alert.detector).dec()
        log.info("alert %s %s %s", alert.detector, alert.status, alert.alert_id)


def _observe(family: str, key: str, state: State) -> None:
    if family != "burst_country" or not state["win"]:
        return
    current = state["win"][max(state["win"], key=int)]
    metrics.window_calls.labels(country_code=key).set(current["n"])
    metrics.window_baseline.labels(country_code=key).set(current["base"] or 0)


async def store(fk: str, state: State | None, partition: int) -> None:
    """Write state to memory and its changelog partition; None forgets the key (tombstone).

    A raw producer send of the bytes Faust's json codec would write: Table.__setitem__ goes
    through Faust's producer buffer, one pending write at a time, and stalls the stream
    once a hundred are queued. Faust flushes the producer before it commits offsets, so
    at-least-once recovery is unchanged.
    """
    if state is None:
        state_table.data.pop(fk, None)
    else:
        state_table.data[fk] = state
    value = None if state is None else orjson.dumps(state)
    await app.producer.send(CHANGELOG, orjson.dumps(fk), value, partition, None, None)


async def keep(fk: str, durable: bool, state: State | None, partition: int) -> None:
    """Keep a key's state (None forgets it): in the table and its changelog, or only in
    memory for a family that is not durable."""
    if durable:
        await store(fk, state, partition)
    elif state is None:
        volatile.pop(fk, None)
    else:
        volatile[fk] = state


@app.agent(keyed_topic)
async def keyed(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        partition = event.message.partition
        sender, watermark, groups = unpack(event.value)
        now = time.monotonic()
        heard = senders.setdefault(partition, {})
        heard[sender] = (watermark, now)
        safe_ts = safe_time(heard, now, 4 * settings.idle_flush_s)[0]
        for (family, key), items in groups.items():
            fk = f"{family}|{key}"
            durable = engine.families[family].durable
            kept = state_table.data if durable else volatile
            state, alerts, late = engine.apply(family, key, kept.get(fk), items,
                                               upto=safe_ts if safe_ts is not None else 0.0)
            await keep(fk, durable, state, partition)
            touched.pop(fk, None)  # re-inserted last: the dict stays in order of last call
            touched[fk] = (now, partition)
            if late:
                metrics.late.labels(family=family).inc(late)
            _observe(family, key, state)
            if alerts:
                await publish(alerts)


@app.timer(interval=settings.flush_interval_s)
async def flush_silent_keys() -> None:
    """Close windows of keys that stopped calling: their own calls would never close them.

    While the partition flows, windows close at its safe stream time (pure event-time
    semantics); once the whole partition has paused, they close as at the end of a stream.
    """
    now = time.monotonic()
    assigned = app.consumer.assignment() if app.consumer else set()
    stale = []
    for fk, (seen, partition) in touched.items():
        if now - seen < settings.idle_flush_s:
            break  # in order of last call: every key after this one called later still
        stale.append((fk, partition))
    for fk, partition in stale:
        family, key = fk.split("|", 1)
        durable = engine.families[family].durable
        state = state_table.data.get(fk) if durable else volatile.get(fk)
        if state is None or TP(keyed_topic.get_topic_name(), partition) not in assigned:
            del touched[fk]
            volatile.pop(fk, None)
            continue
        safe_ts, silent_s = safe_time(senders.get(partition, {}), now,
                                      4 * settings.idle_flush_s)
        paused = silent_s >= settings.idle_flush_s
        if not paused and safe_ts is None:
            continue
        state, alerts = engine.flush(family, key, state, None if paused else safe_ts)
        idle = is_idle(state)
        if idle or paused:
            del touched[fk]
        forget = idle and not engine.families[family].learns
        await keep(fk, durable, None if forget else state, partition)
        await publish(alerts)
    metrics.table_keys.labels(table="keyed-state").set(len(state_table.data))
    metrics.table_keys.labels(table="volatile").set(len(volatile))
