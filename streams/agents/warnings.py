"""Verdicts of answered calls in, keyed by subscriber: one warning per subscriber and
incident, at most the policy's cap a day, published for an SMS gateway or IVR system.

Each subscriber's book (streams/warnings.py) is in a changelog-backed table on the
partition of its verdicts. A warning is delivered before its book is written: a crash in
between sends it again after the restart, with the same `warning_id`. The topic is guarded
as the keyed one is (streams/faust_config.py): a message is committed only once this agent
has handled it, so none that Faust drops on a restart or a rebalance is lost.
"""

from __future__ import annotations

import logging

from streams.agents.continuity import watch
from streams.agents.delivery import deliver, handled
from streams.agents.ingest import reject
from streams.app import app, metrics, policy, warn_topic, warned_table, warnings_topic
from streams.events import BadRecord, CallVerdict
from streams.warnings import decide, dump_book, load_book

log = logging.getLogger(__name__)


async def judge(value: bytes) -> None:
    verdict = CallVerdict.model_validate_json(value)
    book = load_book(warned_table.get(verdict.subscriber))
    warning, outcome = decide(book, verdict, policy)
    metrics.warnings.labels(outcome=outcome).inc()
    if warning is None:
        return
    data = warning.model_dump_json().encode()
    await deliver("warning", [lambda: warnings_topic.send(
        key=warning.warning_id.encode(), value=data)])
    warned_table[verdict.subscriber] = dump_book(book)


@app.agent(warn_topic)
async def warn(stream):  # type: ignore[no-untyped-def]
    async for event in stream.events():
        watch(event)
        msg = event.message
        try:
            await judge(event.value)
        except Exception as exc:  # one message lost to a bug goes to the dead letters
            metrics.internal_errors.labels(where="warnings").inc()
            log.warning("warning candidate %s:%d:%d dead-lettered: %s", msg.topic,
                        msg.partition, msg.offset, type(exc).__name__)
            await reject(BadRecord(f"internal: {type(exc).__name__}: {exc}", event.value),
                         msg.topic, msg.partition, msg.offset)
        handled([event])
