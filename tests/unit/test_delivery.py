"""Sends retried until delivered, in order: a record that failed is sent again with every
record after it, so a keyed partition never sees later marks before earlier calls."""

from __future__ import annotations

import asyncio

from streams.agents.delivery import deliver


def test_a_failed_delivery_is_sent_again_with_everything_after_it_in_order() -> None:
    sent: list[str] = []
    failures = {"b": 1}  # b's first delivery fails (a broker error after the enqueue)

    def send(name: str):  # type: ignore[no-untyped-def]
        async def enqueue() -> asyncio.Future:
            sent.append(name)
            future = asyncio.get_running_loop().create_future()
            if failures.get(name):
                failures[name] -= 1
                future.set_exception(ConnectionError("broker gone"))
            else:
                future.set_result(None)
            return future
        return enqueue

    asyncio.run(deliver("test record", [send("a"), send("b"), send("c")]))
    assert sent == ["a", "b", "c", "b", "c"]


def test_an_enqueue_that_raises_is_retried_until_it_goes_out() -> None:
    attempts: list[int] = []

    async def enqueue() -> asyncio.Future:
        attempts.append(1)
        if len(attempts) < 3:
            raise BufferError("producer queue full")
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    asyncio.run(deliver("test record", [enqueue]))
    assert len(attempts) == 3
