"""Worker health: consumer lag per assigned partition, the beat behind /livez and /readyz
(streams/probes.py), and the worker's own log format.

Lag is the one signal that says the worker cannot keep up, so it is measured against the
broker (end offsets), not against what this worker happens to have fetched last.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import TP

from streams.app import app, events_topic, keyed_topic, metrics, probes, settings

log = logging.getLogger(__name__)

LAG_INTERVAL_S = 5.0  # the scrape interval of deploy/prometheus/prometheus.yml
# (topic, partition) label pairs set last time, so revoked partitions stop being reported.
_reported: set[tuple[str, str]] = set()


def logging_config(level: str, json_format: bool) -> dict[str, Any]:
    """dictConfig for Faust's `logging_config` setting: our masked handler as the only one.

    The worker (mode) clears the root handlers and applies this config before it logs its
    first line, so every line, Faust's own included, is masked and in the chosen format.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,  # module loggers exist already, at import
        "handlers": {
            "cdrwatch": {"()": "streams.logs.build_handler", "json_format": json_format},
        },
        "root": {"level": level.upper(), "handlers": ["cdrwatch"]},
    }


@app.on_worker_init.connect
def _use_our_logging(sender: Any = None, **_: Any) -> None:
    """Before the Worker is built: it reads `logging_config` in its constructor.

    This signal fires before mode sets up logging, so calling configure_logging here would
    be undone; handing Faust the config instead makes its setup install our handler.
    """
    app.conf.logging_config = logging_config(settings.log_level, settings.log_json)


def lag(end: int, committed: int | None, earliest: int) -> int:
    """Messages not yet committed; no commit yet means the group reads from the earliest."""
    return max(end - (earliest if committed is None else committed), 0)


async def _offsets(tps: list[TP]) -> tuple[dict[TP, int], dict[TP, int], dict[TP, int | None]]:
    consumer = app.consumer
    ends = dict(await consumer.highwaters(*tps))
    # Faust's own record of what it committed (or found committed at assignment); the
    # public monitor only learns offsets it commits itself, so it is blind after a restart.
    committed = {tp: consumer._committed_offset.get(tp) for tp in tps}
    missing = [tp for tp, offset in committed.items() if offset is None]
    earliest = dict(await consumer.earliest_offsets(*missing)) if missing else {}
    return ends, earliest, committed


@app.timer(interval=LAG_INTERVAL_S)
async def record_consumer_lag() -> None:
    """Set cdrwatch_consumer_lag_messages for each assigned events/keyed partition."""
    topics = {events_topic.get_topic_name(), keyed_topic.get_topic_name()}
    tps = sorted(tp for tp in app.consumer.assignment() if tp.topic in topics)
    current: set[tuple[str, str]] = set()
    if tps:
        try:
            ends, earliest, committed = await _offsets(tps)
        except Exception as exc:  # a rebalance or broker hiccup must not crash the worker
            log.warning("consumer lag not measured: %r", exc)
            return
        for tp in tps:
            labels = (tp.topic, str(tp.partition))
            value = lag(ends[tp], committed[tp], earliest.get(tp, 0))
            metrics.consumer_lag.labels(*labels).set(value)
            current.add(labels)
    for labels in _reported - current:
        metrics.consumer_lag.remove(*labels)
    _reported.clear()
    _reported.update(current)


@app.timer(interval=1.0)
async def beat() -> None:
    """The loop turns; ready once in the group with partitions and nothing being restored."""
    topics = {events_topic.get_topic_name(), keyed_topic.get_topic_name()}
    assigned = any(tp.topic in topics for tp in app.consumer.assignment())
    probes.beat(assigned and not app.rebalancing and not app.in_recovery)
