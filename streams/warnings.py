"""Warnings to subscribers at risk: each one who answered a call of an incident hears of it
once, at most `warn_daily_cap` times a day, never for an allowlisted caller.

Pure: a subscriber's `Book` goes in with a verdict, the warning (or why none) comes out;
the worker keeps books in a table partitioned by subscriber, the offline mode in a dict.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from streams.events import CallVerdict, SubscriberWarning
from streams.policy import Policy

Outcome = Literal["issued", "already_warned", "daily_cap", "allowlisted", "short_call"]
# What a book remembers of incidents and days past this long ago (event time) is dropped:
# a subscriber's book stays a few entries, and an incident older than this is long over.
MEMORY = timedelta(days=7)


class Book(msgspec.Struct, kw_only=True):
    """One subscriber's warnings: incidents they were warned of, warnings per local day."""

    incidents: dict[str, str] = msgspec.field(default_factory=dict)  # alert_id -> ISO time
    days: dict[str, int] = msgspec.field(default_factory=dict)  # local date -> warnings


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(Book).decode


def dump_book(book: Book) -> bytes:
    return _ENCODE(book)


def load_book(raw: bytes | None) -> Book:
    return Book() if raw is None else _DECODE(raw)


def warning_id(subscriber: str, alert_id: str) -> str:
    return hashlib.sha256(f"{subscriber}|{alert_id}".encode()).hexdigest()[:20]


def candidate(verdict: CallVerdict, policy: Policy) -> bool:
    """A call the subscriber answered and talked on long enough to be at risk."""
    return verdict.answered and verdict.duration_s >= policy.actions.warn_min_talk_s


def decide(book: Book, verdict: CallVerdict, policy: Policy
           ) -> tuple[SubscriberWarning | None, Outcome]:
    """The warning this verdict gives its subscriber, if any; `book` is updated."""
    actions = policy.actions
    if not candidate(verdict, policy):
        return None, "short_call"
    if verdict.caller in policy.allowed_e164:
        return None, "allowlisted"
    if verdict.alert_id in book.incidents:
        return None, "already_warned"
    local = verdict.call_time.astimezone(ZoneInfo(policy.timezone))
    day = local.date().isoformat()
    _forget(book, verdict.call_time)
    if book.days.get(day, 0) >= actions.warn_daily_cap:
        return None, "daily_cap"
    book.incidents[verdict.alert_id] = verdict.call_time.isoformat()
    book.days[day] = book.days.get(day, 0) + 1
    kind = "spoofing" if verdict.detector.startswith("spoof_") else "campaign"
    text = actions.warn_templates[actions.warn_language][kind]
    return SubscriberWarning(
        warning_id=warning_id(verdict.subscriber, verdict.alert_id),
        subscriber=verdict.subscriber,
        alert_id=verdict.alert_id,
        detector=verdict.detector,
        severity=verdict.severity,
        first_contact=verdict.call_time,
        record_id=verdict.record_id,
        caller=verdict.caller,
        language=actions.warn_language,
        reason=text.format(time=local.strftime("%H:%M"), caller=verdict.caller),
    ), "issued"


def _forget(book: Book, now: datetime) -> None:
    horizon = now - MEMORY
    book.incidents = {a: t for a, t in book.incidents.items()
                      if datetime.fromisoformat(t) >= horizon}
    cut = horizon.date().isoformat()
    book.days = {d: n for d, n in book.days.items() if d >= cut}


class Warner:
    """Books in memory: the offline mode's warnings, in the order verdicts came."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.books: dict[str, Book] = {}
        self.outcomes: dict[Outcome, int] = {}

    def see(self, verdict: CallVerdict) -> SubscriberWarning | None:
        book = self.books.setdefault(verdict.subscriber, Book())
        warning, outcome = decide(book, verdict, self.policy)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        return warning
