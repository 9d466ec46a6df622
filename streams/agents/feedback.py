"""Analysts' verdicts in the worker: the ledger (streams/feedback.py) every worker folds from
the whole feedback and alerts topics, the alerts and verdicts the keyed agent drops under a
suppression, and the retractions of warnings it publishes.

The topics are read by the hotlist's reader (streams/agents/hotlist.py), which reads the
alerts whole already; what is applied is what has been read, so a suppression holds from
the moment this worker has read its verdict on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import orjson
from pydantic import ValidationError

from streams.agents.delivery import deliver
from streams.app import metrics, policy, warnings_topic
from streams.events import Alert, AnalystFeedback, CallVerdict, Verdict
from streams.feedback import Ledger, WarningsRead
from streams.verdicts import verdict_line
from streams.warnings import candidate

log = logging.getLogger(__name__)


class CaughtUp:
    """The warnings agent waits here, once after each assignment, until the reader has read
    the warnings topic to where it ended when asked: a warning a worker delivered before it
    died, its book unwritten, is then known and booked, not sent a second time."""

    def __init__(self) -> None:
        self.assignments = 0  # partition assignments of this worker so far
        self.read_for = -1  # the assignment the reader caught up after
        self.asked: list[asyncio.Future[None]] = []
        # the waiters the reader answers next, and the end offsets they wait for
        self.round: tuple[list[asyncio.Future[None]], dict[Any, int]] | None = None

    def assigned(self) -> None:
        self.assignments += 1

    async def wait(self) -> None:
        assignment = self.assignments
        if self.read_for == assignment:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.asked.append(future)
        await future
        self.read_for = assignment


ledger = Ledger()
warnings_read = WarningsRead()
caught_up = CaughtUp()
_shown: set[tuple[str, Verdict]] = set()  # gauge children set so far


def fold_feedback(values: Iterable[bytes | None]) -> None:
    """Every verdict of a batch into the ledger; a record that is not one is counted."""
    for value in values:
        try:
            ledger.feedback(AnalystFeedback.model_validate_json(value or b""))
        except ValidationError:
            metrics.feedback_rejected.inc()


def fold_warnings(values: Iterable[bytes | None]) -> None:
    for value in values:
        try:
            warnings_read.read(value or b"")
        except (ValidationError, orjson.JSONDecodeError):
            metrics.internal_errors.labels(where="hotlist").inc()  # only cdrwatch writes it


def unsuppressed(alerts: list[Alert]) -> list[Alert]:
    """The alerts to publish: none of a (detector, key) an analyst suppressed, by the
    window it is about (the same rule as `cdrwatch detect --feedback`)."""
    if not ledger.suppressions():
        return alerts
    kept = []
    for alert in alerts:
        if ledger.silenced(alert):
            metrics.alerts_suppressed.labels(detector=alert.detector).inc()
        else:
            kept.append(alert)
    return kept


def unsuppressed_verdicts(verdicts: list[CallVerdict]) -> list[CallVerdict]:
    """The calls of a suppressed incident get no verdict, hence no warning."""
    if not ledger.suppressions():
        return verdicts
    kept, dropped = [], 0
    for v in verdicts:
        if not ledger.suppressed(v.detector, v.key, v.call_time):
            kept.append(v)
        elif candidate(v, policy):
            dropped += 1
    metrics.warnings.labels(outcome="suppressed").inc(dropped)
    return kept


async def retract() -> None:
    """Publish what makes each warning's latest record what the verdicts say (a retraction
    with the warning's key, or the warning again), and wait until the broker has it."""
    due = warnings_read.due(ledger)
    if not due:
        return
    await deliver("warning retraction", [
        lambda r=r: warnings_topic.send(key=r.warning_id.encode(),
                                        value=verdict_line(r))
        for r in due])
    for record in due:
        warnings_read.sent(record)
        outcome = "retracted" if record.kind == "retraction" else "reinstated"
        metrics.warnings.labels(outcome=outcome).inc()
    log.info("feedback: %d warnings retracted or reinstated", len(due))


def gauges() -> None:
    counts = ledger.counts()
    for detector, verdict in _shown | set(counts):
        metrics.feedback_incidents.labels(detector, verdict).set(counts[(detector, verdict)])
    _shown.update(counts)
    metrics.feedback_unmatched.set(len(ledger.unmatched()))
