"""Nothing committed before its work is on the broker: sends retried until delivered, and
offsets acked only once that is done.

Faust acks an event when its stream lets go of it: also when the agent is cancelled in the
middle of it (a SIGTERM, a rolling restart), and when a stream skips it because a stop or a
rebalance suspended flow control. It would then commit offsets whose keyed items, alerts or
state never reached Kafka, and the next reader would start after them. The worker's
consumer (streams/faust_config.py) acks a message only once `handled` said so; any other
is read again by the next reader (the fold drops what it already counted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)
Send = Callable[[], Awaitable[Awaitable[Any]]]  # enqueue a record; awaits to its delivery
# A delivery not acknowledged by then is sent again (a duplicate is counted once): a lost
# produce response must not hold the agent for the producer's 20-minute request timeout.
DELIVERY_WAIT_S = 15.0


def handled(events: Iterable[Any]) -> None:
    """The work of these events was delivered: Faust may ack them when it lets go of them."""
    from streams.app import app  # the app imports the agents: import it once it exists

    consumer = app.consumer
    for event in events:
        consumer.handled(event.message)  # type: ignore[attr-defined]


async def backoff(what: str, exc: BaseException, delay: float) -> float:
    from streams.app import metrics

    metrics.internal_errors.labels(where="delivery").inc()
    log.warning("%s not sent (%s), retrying in %.1f s", what, type(exc).__name__, delay)
    await asyncio.sleep(delay)
    return min(delay * 2, 5.0)


async def enqueue(what: str, send: Send) -> Awaitable[Any]:
    """Hand a record to the producer, retrying until it takes it; its delivery future."""
    delay = 0.1
    while True:
        try:
            return await send()
        except Exception as exc:  # producer errors: retried, never dropped
            delay = await backoff(what, exc, delay)


async def deliver(what: str, sends: list[Send]) -> None:
    """Enqueue every send, then wait until the broker has each; never give one up (a broker
    outage stalls, it loses nothing). After a failed or unanswered delivery, that record and
    every one after it are sent again, in order: a keyed partition must never see a later
    message's marks before an earlier message's calls (a record sent twice is counted
    once)."""
    delay = 0.1
    while sends:
        futures = [asyncio.ensure_future(await enqueue(what, send)) for send in sends]
        await asyncio.wait(futures, timeout=DELIVERY_WAIT_S)
        failed = next((i for i, f in enumerate(futures)
                       if not f.done() or f.cancelled() or f.exception() is not None), None)
        if failed is not None:
            f = futures[failed]
            error = f.exception() if f.done() and not f.cancelled() else None
            delay = await backoff(what, error or TimeoutError(), delay)
        sends = [] if failed is None else sends[failed:]
