"""Keyed items in: fold them into the table state of their key, publish alerts."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from faust.types import TP

from streams.agents.routing import unpack
from streams.app import alerts_topic, app, engine, keyed_topic, metrics, settings, state_table
from streams.detect.windowed import State, is_idle
from streams.events import Alert, dump_alert

log = logging.getLogger(__name__)

# family|key -> (monotonic time of its last call, keyed-topic partition), for the idle flush.
touched: dict[str, tuple[float, int]] = {}
# keyed-topic partition -> (max event time seen, monotonic time it last advanced).
stream_time: dict[int, tuple[float, float]] = {}


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


def _advance(partition: int, ts: float) -> None:
    seen = stream_time.get(partition)
    if seen is None or ts > seen[0]:
        stream_time[partition] = (ts, time.monotonic())


@app.agent(keyed_topic)
async def keyed(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        partition = event.message.partition
        for (family, key), items in unpack(event.value).items():
            fk = f"{family}|{key}"
            state, alerts, late = engine.apply(family, key, state_table.get(fk), items)
            state_table[fk] = state
            touched[fk] = (time.monotonic(), partition)
            _advance(partition, items[-1].ts)
            if late:
                metrics.late.labels(family=family).inc(late)
            _observe(family, key, state)
            await publish(alerts)


@app.timer(interval=settings.flush_interval_s)
async def flush_silent_keys() -> None:
    """Close windows of keys that stopped calling: their own calls would never close them.

    While the partition flows, windows close at the partition's stream time (pure event-time
    semantics); once the whole partition has paused, they close as at the end of a stream.
    """
    now = time.monotonic()
    assigned = app.consumer.assignment() if app.consumer else set()
    for fk, (seen, partition) in list(touched.items()):
        if now - seen < settings.idle_flush_s:
            continue
        state = state_table.data.get(fk)
        if state is None or TP(keyed_topic.get_topic_name(), partition) not in assigned:
            del touched[fk]
            continue
        max_ts, advanced = stream_time.get(partition, (None, now))
        paused = now - advanced >= settings.idle_flush_s
        family, key = fk.split("|", 1)
        state, alerts = engine.flush(family, key, state, None if paused else max_ts)
        if is_idle(state) or paused:
            del touched[fk]
        state_table.data[fk] = state
        state_table.send_changelog(partition, fk, state)
        await publish(alerts)
    metrics.table_keys.labels(table="keyed-state").set(len(state_table.data))
