"""Verdicts of answered calls in, keyed by subscriber: one warning per subscriber and
incident, at most the policy's cap a day, published for an SMS gateway or IVR system.

Each subscriber's book (streams/warnings.py) is in a changelog-backed table on the
partition of its verdicts. A warning is delivered before its book is written, and the book
is on the changelog before its candidate is acked, so a worker taking the partition over
never reads a book older than the candidates it will not read again (Faust's own buffered
table write gave no such order). A crash between a warning's delivery and its book's write
leaves the warning on the topic and the candidate unacked: after each assignment, before
its first warning, the agent waits until the hotlist's reader (which reads the warnings topic
whole, streams/agents/hotlist.py) has read the topic to its end, and a warning found there
is booked, not sent again. The topic is guarded as the keyed one is
(streams/faust_config.py): a message is committed only once this agent has handled it, so
none Faust drops on a restart is lost.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from streams.agents.continuity import watch
from streams.agents.delivery import deliver, handled
from streams.agents.feedback import caught_up, warnings_read
from streams.agents.ingest import reject
from streams.app import app, metrics, policy, warn_topic, warned_table, warnings_topic
from streams.events import BadRecord, CallVerdict
from streams.verdicts import verdict_line
from streams.warnings import decide, dump_book, load_book

log = logging.getLogger(__name__)


WARNED_CHANGELOG = warned_table.changelog_topic.get_topic_name()


async def judge(value: bytes, partition: int) -> None:
    verdict = CallVerdict.model_validate_json(value)
    book = load_book(warned_table.get(verdict.subscriber))
    warning, outcome = decide(book, verdict, policy)
    if warning is not None:
        await caught_up.wait()
        if warnings_read.published(warning):  # delivered by a worker that died before
            outcome = "already_warned"  # writing this book: booked now, not sent again
    metrics.warnings.labels(outcome=outcome).inc()
    if warning is None:
        return
    if outcome == "issued":
        data = verdict_line(warning)  # the bytes `detect --warnings` writes
        await deliver("warning", [lambda: warnings_topic.send(
            key=warning.warning_id.encode(), value=data)])
    book_value, key = dump_book(book), verdict.subscriber
    warned_table.data[key] = book_value
    await deliver("warning book", [lambda: app.producer.send(
        WARNED_CHANGELOG, orjson.dumps(key), book_value, partition, None, None)])


@app.on_partitions_assigned.connect
async def _assigned(app_: Any, assigned: set[Any], **_: Any) -> None:
    """Another worker may have warned on these partitions meanwhile."""
    caught_up.assigned()


@app.agent(warn_topic)
async def warn(stream):  # type: ignore[no-untyped-def]
    # As the keyed agent: Faust's compiled stream loop would ack each message itself, past
    # the worker's consumer, and commit the candidates a rebalance made it skip (measured:
    # 70 of 325 warnings never issued after a second worker took over, every candidate on
    # the topic). The agent lets go of each message itself.
    stream.enable_acks = False
    async for event in stream.events():
        watch(event)
        msg = event.message
        try:
            await judge(event.value, msg.partition)
        except Exception as exc:  # one message lost to a bug goes to the dead letters
            metrics.internal_errors.labels(where="warnings").inc()
            log.warning("warning candidate %s:%d:%d dead-lettered: %s", msg.topic,
                        msg.partition, msg.offset, type(exc).__name__)
            await reject(BadRecord(f"internal: {type(exc).__name__}: {exc}", event.value),
                         msg.topic, msg.partition, msg.offset)
        handled([event])
        await stream.ack(event)
