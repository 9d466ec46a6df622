"""Analysts' verdicts on incidents: which incidents are retracted, which (detector, key) are
suppressed and when, and each detector's confirmed and false-alarm incidents.

A function of the *sets* of alerts and verdicts read: per `alert_id` the verdict with the
latest `at` holds (at a tie, a false alarm; then the greater record as JSON), so the worker,
after any arrival order or a restart, and `cdrwatch detect --feedback` agree by construction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import ValidationError

from streams.events import (
    Alert,
    AnalystFeedback,
    SubscriberWarning,
    Verdict,
    WarningRetraction,
)
from streams.usage import describe

Window = tuple[datetime, datetime]  # [from, until)


def _rank(feedback: AnalystFeedback) -> tuple[datetime, bool, bytes]:
    """Latest `at` first; at the same instant a false alarm over a confirmation (someone
    found a reason to doubt it), then the greater record: never the arrival order."""
    return feedback.at, feedback.verdict == "false_alarm", feedback.model_dump_json().encode()


class Ledger:
    """The incidents (alert_id -> detector, key) and the latest verdict on each."""

    def __init__(self) -> None:
        self.incidents: dict[str, tuple[str, str]] = {}
        self.latest: dict[str, AnalystFeedback] = {}
        self._windows: dict[tuple[str, str], list[Window]] | None = None

    def alert(self, alert: Alert) -> None:
        if alert.alert_id not in self.incidents:  # the id is a hash of detector and key
            self.incidents[alert.alert_id] = (alert.detector, alert.key)
            if alert.alert_id in self.latest:
                self._windows = None

    def feedback(self, feedback: AnalystFeedback) -> None:
        known = self.latest.get(feedback.alert_id)
        if known is None or _rank(feedback) > _rank(known):
            self.latest[feedback.alert_id] = feedback
            self._windows = None

    def retracted(self) -> frozenset[str]:
        """The alert_ids whose latest verdict is a false alarm (read alert or not: a warning
        may outlive its alert's retention)."""
        return frozenset(a for a, f in self.latest.items() if f.verdict == "false_alarm")

    def suppressions(self) -> dict[tuple[str, str], list[Window]]:
        """(detector, key) -> the windows of event time in which its alerts are dropped."""
        if self._windows is None:
            windows: dict[tuple[str, str], list[Window]] = {}
            for alert_id, f in sorted(self.latest.items()):
                incident = self.incidents.get(alert_id)
                if f.suppress_for is not None and incident is not None:
                    windows.setdefault(incident, []).append((f.at, f.at + f.suppress_for))
            self._windows = windows
        return self._windows

    def suppressed(self, detector: str, key: str, when: datetime) -> bool:
        windows = self.suppressions().get((detector, key))
        return windows is not None and any(start <= when < end for start, end in windows)

    def silenced(self, alert: Alert) -> bool:
        """An alert a suppression drops. A judged incident's resolution always passes: its
        open went out before the verdict, and the case tool must see it close."""
        if alert.status == "resolved" and alert.alert_id in self.latest:
            return False
        return self.suppressed(alert.detector, alert.key, alert.window_start)

    def counts(self) -> Counter[tuple[str, Verdict]]:
        """(detector, verdict) -> incidents: the precision's numerator and denominator."""
        return Counter((self.incidents[a][0], f.verdict) for a, f in self.latest.items()
                       if a in self.incidents)

    def unmatched(self) -> frozenset[str]:
        """Verdicts on alert_ids never read: a typo, or an alert past the topic's retention."""
        return frozenset(a for a in self.latest if a not in self.incidents)


def retraction(warning: SubscriberWarning, feedback: AnalystFeedback) -> WarningRetraction:
    return WarningRetraction(
        warning_id=warning.warning_id, subscriber=warning.subscriber,
        alert_id=warning.alert_id, detector=warning.detector,
        first_contact=warning.first_contact, retracted_at=feedback.at)


class WarningsRead:
    """The warnings topic as read, by incident: each warning as published, and which of them
    have a retraction as their latest record. Only judged incidents are looked at again, so
    a batch costs the verdicts' warnings, not every warning ever sent."""

    def __init__(self) -> None:
        self.issued: dict[str, dict[str, bytes]] = {}  # alert_id -> warning_id -> warning
        self.withdrawn: set[str] = set()  # warning_ids whose latest record is a retraction

    def read(self, value: bytes) -> None:
        doc = orjson.loads(value)
        if isinstance(doc, dict) and doc.get("kind") == "retraction":
            self.withdrawn.add(WarningRetraction.model_validate(doc).warning_id)
            return
        warning = SubscriberWarning.model_validate(doc)
        self.issued.setdefault(warning.alert_id, {})[warning.warning_id] = value
        self.withdrawn.discard(warning.warning_id)

    def due(self, ledger: Ledger) -> list[SubscriberWarning | WarningRetraction]:
        """What to publish for each warning's latest record to be what the verdicts say: a
        retraction for a false alarm, the warning again when a later `confirmed` reversed it."""
        out: list[SubscriberWarning | WarningRetraction] = []
        for alert_id, verdict in ledger.latest.items():
            false_alarm = verdict.verdict == "false_alarm"
            for wid, raw in self.issued.get(alert_id, {}).items():  # in the order read
                if false_alarm != (wid in self.withdrawn):
                    warning = SubscriberWarning.model_validate_json(raw)
                    out.append(retraction(warning, verdict) if false_alarm else warning)
        return out

    def published(self, warning: SubscriberWarning) -> bool:
        """Is this warning on the topic already (sent by a worker that died before its book
        was written)?"""
        return warning.warning_id in self.issued.get(warning.alert_id, {})

    def sent(self, record: SubscriberWarning | WarningRetraction) -> None:
        if record.kind == "retraction":
            self.withdrawn.add(record.warning_id)
        else:
            self.withdrawn.discard(record.warning_id)


def retractions(warnings: Iterable[SubscriberWarning], ledger: Ledger
                ) -> list[WarningRetraction]:
    """The offline mode's retractions, by the worker's rule: one per warning of an incident
    whose latest verdict is a false alarm."""
    read = WarningsRead()
    for warning in warnings:
        read.read(warning.model_dump_json().encode())
    return [r for r in read.due(ledger) if isinstance(r, WarningRetraction)]


class FeedbackFileError(Exception):
    """A line of a feedback file that is not a verdict; the message names the line."""


def read_feedback(path: Path) -> Iterator[AnalystFeedback]:
    """Every verdict of a JSONL file (`cdrwatch feedback --out`, or the topic dumped)."""
    with path.open("rb") as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield AnalystFeedback.model_validate_json(line)
            except ValidationError as exc:
                raise FeedbackFileError(f"{path}:{n}: not a verdict: {describe(exc)}") from None
