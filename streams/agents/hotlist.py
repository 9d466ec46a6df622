"""The switch's hotlist, kept on a compacted topic: every alert read in, each change of an
entry out (key = the number or range, value = the entry, a tombstone once it is gone).

It reads every partition of the alerts topic from the start, outside the consumer group:
the incidents of one number sit on any partition (alerts are keyed by `alert_id`), and the
strongest of them must be known to publish the right entry. It commits nothing: after a
restart it reads the alerts again and, the hotlist being a function of the set of alerts
read (streams/hotlist.py), publishes the same entries again (idempotent by key). Several
workers each publish the same entries. It reads the feedback and warnings topics whole the
same way, for the analysts' verdicts (streams/agents/feedback.py): a false alarm's entries
are withdrawn and its warnings retracted.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from streams.agents import feedback
from streams.agents.delivery import Send, deliver
from streams.app import (
    alerts_topic,
    app,
    feedback_topic,
    hotlist_topic,
    metrics,
    settings,
    warnings_topic,
)
from streams.broker import bootstrap_of
from streams.events import load_alert
from streams.hotlist import Entry, Hotlist, changes, dump_entry

log = logging.getLogger(__name__)
READ_MS = 1000
RETRY_S = 2.0


def fold(hotlist: Hotlist, values: Iterable[bytes | None]) -> None:
    """Every alert of a batch into the hotlist; a value that is not one is counted."""
    for value in values:
        try:
            alert = load_alert(value or b"")
        except ValidationError:
            metrics.hotlist_skipped.labels(reason="not_an_alert").inc()
            continue
        feedback.ledger.alert(alert)
        reason = hotlist.push(alert)
        if reason is not None:
            metrics.hotlist_skipped.labels(reason=reason).inc()
    hotlist.prune()


async def publish(diff: dict[str, Entry | None]) -> None:
    """Send each change and wait until the broker has them all (retried, never dropped)."""
    name = hotlist_topic.get_topic_name()
    await deliver("hotlist entry", [_send(name, key.encode(), None if e is None else dump_entry(e))
                                    for key, e in diff.items()])


def _send(topic: str, key: bytes, value: bytes | None) -> Send:
    return lambda: app.producer.send(topic, key, value, None, None, None)


def _gauge(listed: dict[str, Entry]) -> None:
    by = Counter(e.action for e in listed.values())
    for action in ("block", "label"):
        metrics.hotlist_entries.labels(action=action).set(by[action])


def _consumer() -> aiokafka.AIOKafkaConsumer:
    conf = app.conf
    return aiokafka.AIOKafkaConsumer(
        bootstrap_servers=bootstrap_of(settings.broker), group_id=None,
        enable_auto_commit=False, auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        **credentials_to_aiokafka_auth(conf.broker_credentials, conf.ssl_context))


async def _partitions(consumer: aiokafka.AIOKafkaConsumer, name: str
                      ) -> list[aiokafka.TopicPartition]:
    """A topic's partitions, once it exists (the first alert may create the alerts topic)."""
    while True:
        await consumer.topics()  # refreshes the metadata
        found = consumer.partitions_for_topic(name)
        if found:
            return [aiokafka.TopicPartition(name, p) for p in sorted(found)]
        await asyncio.sleep(RETRY_S)


def _fold(hotlist: Hotlist, batch: dict[aiokafka.TopicPartition, list[Any]]) -> None:
    """Each topic's records to what reads them."""
    readers = {alerts_topic.get_topic_name(): lambda v: fold(hotlist, v),
               feedback_topic.get_topic_name(): feedback.fold_feedback,
               warnings_topic.get_topic_name(): feedback.fold_warnings}
    for tp, records in batch.items():
        readers[tp.topic](r.value for r in records)
    feedback.gauges()


async def _unread(consumer: aiokafka.AIOKafkaConsumer, ends: dict[aiokafka.TopicPartition, int]
                  ) -> dict[aiokafka.TopicPartition, int]:
    """The partitions not yet read up to these end offsets."""
    return {tp: end for tp, end in ends.items() if await consumer.position(tp) < end}


async def _answer(consumer: aiokafka.AIOKafkaConsumer,
                  parts: list[aiokafka.TopicPartition]) -> None:
    """Wake the warnings agent once every warning on the topic when it asked has been read."""
    caught = feedback.caught_up
    if caught.round is None and caught.asked:
        caught.round = (caught.asked, await consumer.end_offsets(parts))
        caught.asked = []
    if caught.round is None:
        return
    waiting, ends = caught.round
    if await _unread(consumer, ends):
        return
    for future in waiting:
        if not future.done():
            future.set_result(None)
    caught.round = None


async def follow(listed: dict[str, Entry]) -> None:
    """Read the alerts, verdicts and warnings from the start and keep the hotlist topic
    equal to `listed`, the entries published last (kept across a restart of this loop, so
    that what went away meanwhile gets its tombstone). Nothing is published before what
    there was at the start has all been read: a hotlist half rebuilt would tombstone live
    entries, a warnings topic half read would be sent its retractions again."""
    for topic in (hotlist_topic, feedback_topic, warnings_topic):
        await topic.maybe_declare()
    hotlist = Hotlist(settings.hotlist_ttl_s)
    consumer = _consumer()
    try:
        await consumer.start()
        parts = [tp for topic in (alerts_topic, feedback_topic, warnings_topic)
                 for tp in await _partitions(consumer, topic.get_topic_name())]
        consumer.assign(parts)
        backlog = {tp: end for tp, end in (await consumer.end_offsets(parts)).items() if end}
        warned = [tp for tp in parts if tp.topic == warnings_topic.get_topic_name()]
        while True:
            batch = await consumer.getmany(timeout_ms=READ_MS)
            _fold(hotlist, batch)
            await _answer(consumer, warned)
            backlog = await _unread(consumer, backlog)
            if backlog or not batch:
                continue
            await feedback.retract()
            now = hotlist.entries(feedback.ledger.retracted())
            diff = changes(listed, now)
            if diff:
                await publish(diff)
                listed.clear()
                listed.update(now)
                _gauge(listed)
                log.info("hotlist: %d changes published, %d entries listed", len(diff),
                         len(listed))
    finally:
        await consumer.stop()


@app.task
async def hotlist_worker() -> None:
    listed: dict[str, Entry] = {}
    while True:
        try:
            await follow(listed)
        except Exception as exc:  # a broker outage or a bug: read the alerts again
            metrics.internal_errors.labels(where="hotlist").inc()
            log.warning("hotlist reader failed (%s), reading the alerts again in %.0f s",
                        type(exc).__name__, RETRY_S)
            await asyncio.sleep(RETRY_S)
