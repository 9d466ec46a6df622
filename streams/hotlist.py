"""The hotlist a switch loads: the calling numbers and ranges under an open incident, each
with its action, confidence, incident and expiry, derived from the alerts alone.

The fold is a function of the *set* of alerts read (every field of an incident is a max, a
min or a sticky flag), so reading them again, in another order or twice after a restart,
gives the same hotlist: the worker and `cdrwatch hotlist export` agree by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, NamedTuple

import orjson

from streams.events import Alert, Severity
from streams.pseudonym import TAG

Kind = Literal["number", "range"]
Action = Literal["block", "label"]
# Which calls an entry is for: `international` only those from abroad (an international
# ingress trunk, or a foreign network-asserted identity), because the number is a home
# subscriber's own and its genuine calls at home must still ring; `unverified` only those
# whose STIR/SHAKEN verification failed, for the same reason.
Scope = Literal["any", "international", "unverified"]

# The detectors whose key is a calling number or range, with what an entry of it covers.
# Not listed, never blocked: targeted_subscriber (its key is the victim), spoof_neighbour
# (a trunk), and burst_country (a whole country: its campaign's ranges are listed by
# burst_range and burst_ramp, and labelling every call of a country warns its genuine
# callers too).
LISTED: dict[str, tuple[Kind, Scope]] = {
    "spoof_protected": ("number", "any"),
    "spoof_invalid_caller": ("number", "any"),
    "spoof_lookalike": ("number", "any"),
    "spoof_domestic_from_abroad": ("number", "international"),
    "spoof_unverified_roaming": ("number", "international"),
    "spoof_network_mismatch": ("number", "international"),
    "spoof_velocity": ("number", "international"),
    "spoof_stir_shaken": ("number", "unverified"),
    "fanout_number": ("number", "any"),
    "burst_range": ("range", "any"),
    "wangiri_range": ("range", "any"),
    "burst_ramp": ("range", "any"),
}
# An incident's strongest severity so far decides: `info` (a resolution) lists nothing.
ACTIONS: dict[Severity, Action] = {
    "critical": "block", "high": "block", "medium": "label", "low": "label"}
_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
_E164 = re.compile(r"\+\d{1,15}")
DEFAULT_TTL_S = 3600


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the hotlist; `prefix` is the digits after "+" of the number or range."""

    key: str
    prefix: str
    kind: Kind
    action: Action
    scope: Scope
    confidence: float
    alert_id: str
    detector: str
    since: datetime
    expires: datetime


@dataclass(frozen=True, slots=True)
class Incident:
    """What the alerts of one `alert_id` say so far; each field only grows (or shrinks, for
    `since`), so any order of the same alerts folds to the same incident."""

    alert_id: str
    detector: str
    key: str
    since: datetime
    last_end: datetime
    severity: Severity
    score: float
    resolved: bool

    def merge(self, alert: Alert) -> Incident:
        live = alert.status != "resolved"
        stronger = live and _RANK[alert.severity] > _RANK[self.severity]
        return replace(
            self, since=min(self.since, alert.window_start),
            last_end=max(self.last_end, alert.window_end),
            severity=alert.severity if stronger else self.severity,
            score=max(self.score, alert.score) if live else self.score,
            resolved=self.resolved or not live)


def _incident(alert: Alert) -> Incident:
    live = alert.status != "resolved"
    return Incident(alert.alert_id, alert.detector, alert.key, alert.window_start,
                    alert.window_end, alert.severity if live else "info",
                    alert.score if live else 0.0, not live)


def refusal(alert: Alert) -> str | None:
    """Why an alert of a listed detector cannot be on the hotlist, or None when it can: a
    pseudonym stands for a number the switch needs, a raw caller ID is not a number."""
    if alert.key.startswith(TAG):
        return "pseudonymised"
    return None if _E164.fullmatch(alert.key) else "not_e164"


class Hotlist:
    """The incidents of listed detectors, and the event time they are judged at: the latest
    `detected_at` read (the alerts' own clock, so a replay of last month lists what was
    listed then)."""

    def __init__(self, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.ttl = timedelta(seconds=ttl_s)
        self.incidents: dict[str, Incident] = {}
        self.clock: datetime | None = None

    def push(self, alert: Alert) -> str | None:
        """Fold one alert (every alert moves the clock); the reason it was left out (see
        `refusal`), if it was."""
        at = alert.detected_at
        self.clock = at if self.clock is None else max(self.clock, at)
        if alert.detector not in LISTED:
            return None
        reason = refusal(alert)
        if reason is not None:
            return reason
        known = self.incidents.get(alert.alert_id)
        self.incidents[alert.alert_id] = known.merge(alert) if known else _incident(alert)
        return None

    def prune(self) -> None:
        """Forget incidents past their expiry: an alert of one read again later is past it
        too (its window ends no later), so it could not list anything."""
        if self.clock is not None:
            clock = self.clock
            self.incidents = {i: inc for i, inc in self.incidents.items()
                              if inc.last_end + self.ttl > clock}

    def entries(self, retracted: frozenset[str] = frozenset()) -> dict[str, Entry]:
        """Key -> entry as of the clock: per key the strongest live incident (block over
        label, then confidence), with the latest expiry of all of them. An incident an
        analyst called a false alarm (`retracted`, streams/feedback.py) lists nothing."""
        best: dict[str, Entry] = {}
        for inc in self.incidents.values():
            entry = None if inc.alert_id in retracted else self._entry(inc)
            if entry is None:
                continue
            known = best.get(entry.key)
            if known is None:
                best[entry.key] = entry
                continue
            strongest = max(known, entry, key=_strength)
            best[entry.key] = replace(strongest, expires=max(known.expires, entry.expires))
        return dict(sorted(best.items()))

    def _entry(self, inc: Incident) -> Entry | None:
        expires = inc.last_end + self.ttl
        action = ACTIONS.get(inc.severity)
        if inc.resolved or action is None or self.clock is None or expires <= self.clock:
            return None
        kind, scope = LISTED[inc.detector]
        return Entry(inc.key, inc.key[1:], kind, action, scope, inc.score, inc.alert_id,
                     inc.detector, inc.since, expires)


def _strength(entry: Entry) -> tuple[bool, float, datetime, str]:
    return entry.action == "block", entry.confidence, entry.expires, entry.alert_id


class Built(NamedTuple):
    entries: dict[str, Entry]
    skipped: dict[str, set[str]]  # reason -> alert ids left out
    at: datetime | None  # the moment it is as of


def build(alerts: Iterable[Alert], ttl_s: float = DEFAULT_TTL_S,
          at: datetime | None = None, retracted: frozenset[str] = frozenset()) -> Built:
    """The hotlist as of `at` (default: the latest `detected_at`) from the alerts detected
    by then, without the `retracted` incidents."""
    hotlist = Hotlist(ttl_s)
    skipped: dict[str, set[str]] = {}
    for alert in alerts:
        if at is not None and alert.detected_at > at:
            continue
        reason = hotlist.push(alert)
        if reason is not None:
            skipped.setdefault(reason, set()).add(alert.alert_id)
    if at is not None:
        hotlist.clock = at
    return Built(hotlist.entries(retracted), skipped, hotlist.clock)


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def entry_dict(entry: Entry) -> dict[str, object]:
    """An entry as JSON-ready fields, times in RFC 3339 UTC like the alerts' own."""
    values = {f.name: getattr(entry, f.name) for f in fields(entry)}
    return {k: rfc3339(v) if isinstance(v, datetime) else v for k, v in values.items()}


def dump_entry(entry: Entry) -> bytes:
    return orjson.dumps(entry_dict(entry))


def load_entry(value: bytes | str) -> Entry:
    """The inverse of `dump_entry` (a consumer of the topic, the tests)."""
    doc = orjson.loads(value)
    return Entry(**{**doc, "since": datetime.fromisoformat(doc["since"]),
                    "expires": datetime.fromisoformat(doc["expires"])})


def changes(before: Mapping[str, Entry], after: Mapping[str, Entry]) -> dict[str, Entry | None]:
    """What to publish to go from `before` to `after`: new or changed entries, and None (a
    tombstone) for each key no longer listed."""
    out: dict[str, Entry | None] = {k: None for k in before if k not in after}
    out.update({k: e for k, e in after.items() if before.get(k) != e})
    return dict(sorted(out.items()))
