"""A warning a worker delivered before it died, its book unwritten, is not sent again.

The crash is reproduced in the state it leaves: the warning is on the warnings topic, the
subscriber's book does not hold it, and the candidate that gave it is read again (it was
never acked). A SIGKILL lands in that gap only now and then; this state is the gap itself.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from streams.events import CallVerdict
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.verdicts import verdict_line
from streams.warnings import Book, decide
from tests.conftest import consume, produce
from tests.integration.test_faults import metric

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def _verdict(subscriber: str, minute: int) -> CallVerdict:
    return CallVerdict(record_id=f"r-{subscriber}", detector="burst_range",
                       alert_id="a3d87b96bac921444d17", severity="high", key="+4475127",
                       subscriber=subscriber, caller="+447512772130",
                       call_time=T0.replace(minute=minute), answered=True, duration_s=95.0)


def test_a_warning_on_the_topic_before_its_book_is_booked_not_sent_again(
        make_worker) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy(DEFAULT_POLICY)
    first, second = _verdict("+393511745650", 1), _verdict("+393511745651", 2)
    sent, _ = decide(Book(), first, policy)
    expected, _ = decide(Book(), second, policy)
    assert sent is not None and expected is not None
    worker = make_worker(partitions=1)
    produce(worker.bootstrap, worker.names["warnings"], [verdict_line(sent)])  # the dead one's
    produce(worker.bootstrap, worker.names["warn"], [verdict_line(first), verdict_line(second)])

    records = consume(worker.bootstrap, worker.names["warnings"], until=2, timeout_s=60)
    assert [orjson.loads(r)["warning_id"] for r in records] == [sent.warning_id,
                                                                expected.warning_id]
    assert orjson.loads(records[1]) == orjson.loads(verdict_line(expected))
    time.sleep(3)  # nothing else comes: the first subscriber's warning is not sent again
    assert len(consume(worker.bootstrap, worker.names["warnings"], idle_s=2)) == 2
    assert metric(worker, 'cdrwatch_warnings_total{outcome="issued"}') == 1
    assert metric(worker, 'cdrwatch_warnings_total{outcome="already_warned"}') == 1

    # The book now holds it: the candidate delivered once more is judged warned already.
    produce(worker.bootstrap, worker.names["warn"], [verdict_line(first)])
    deadline = time.monotonic() + 30
    while (metric(worker, 'cdrwatch_warnings_total{outcome="already_warned"}') < 2
           and time.monotonic() < deadline):
        time.sleep(0.3)
    assert metric(worker, 'cdrwatch_warnings_total{outcome="already_warned"}') == 2
    assert len(consume(worker.bootstrap, worker.names["warnings"], idle_s=2)) == 2
