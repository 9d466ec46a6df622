"""What the worker's consumer commits on a guarded topic, on Faust's own bookkeeping.

A keyed message is handled only once the write round carrying its state reached the
changelog, after its stream let go of it: the commit must wait for it, never jump it.
"""

from __future__ import annotations

import pytest
from faust.types import TP
from faust.types.tuples import ConsumerMessage

from streams.faust_config import CdrwatchApp, create_app
from streams.settings import Settings

TOPIC = "keyed-commits"
TP0 = TP(TOPIC, 0)


@pytest.fixture
def app() -> CdrwatchApp:
    app = create_app(Settings(app_id="commits"))
    app.guarded = app.contiguous = frozenset({TOPIC})
    app.topics._acking_topics.add(TOPIC)
    app.consumer_generation_id = 1
    return app


def message(offset: int, generation: int = 1) -> ConsumerMessage:
    return ConsumerMessage(TOPIC, 0, offset, 0.0, 0, None, None, b"", None, tp=TP0,
                   generation_id=generation)


def let_go(app: CdrwatchApp, msg: ConsumerMessage) -> None:
    """What a stream does once its agent moved on from the message."""
    msg.ack(app.consumer)


def test_a_message_handled_after_its_stream_let_go_is_committed_then(app) -> None:
    consumer = app.consumer
    first, second = message(0), message(1)
    let_go(app, first)  # its write round is still on its way
    consumer.handled(second)
    let_go(app, second)
    assert consumer._new_offset(TP0) is None  # offset 0 not handled: nothing to commit
    consumer.handled(first)
    assert consumer._new_offset(TP0) == 2


def test_no_commit_jumps_a_message_not_handled_after_a_commit(app) -> None:
    consumer = app.consumer
    consumer._committed_offset[TP0] = 10
    waiting, later = message(10), message(11)
    let_go(app, waiting)
    consumer.handled(later)
    let_go(app, later)
    assert consumer._new_offset(TP0) is None  # Faust alone would commit 12, past 10
    consumer.handled(waiting)
    assert consumer._new_offset(TP0) == 12


def test_with_nothing_committed_the_first_message_read_starts_the_run(app) -> None:
    consumer = app.consumer
    stale = message(40, generation=0)  # read before the rebalance, skipped after it
    let_go(app, stale)
    pending, ready = message(5), message(6)
    let_go(app, pending)
    consumer.handled(ready)
    let_go(app, ready)
    assert consumer._new_offset(TP0) is None
    consumer.handled(pending)
    assert consumer._new_offset(TP0) == 7


def test_a_message_no_agent_handled_is_never_committed(app) -> None:
    consumer = app.consumer
    skipped = message(0)
    let_go(app, skipped)  # a stream skipped it: a stop or a rebalance suspended the flow
    for offset in range(1, 4):
        done = message(offset)
        consumer.handled(done)
        let_go(app, done)
    assert consumer._new_offset(TP0) is None

