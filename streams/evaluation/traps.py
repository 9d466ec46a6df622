"""Traps: legitimate traffic shaped like fraud, and what the detectors said about it.

A trap's calls are not fraud, so every incident of medium severity or above whose calls
include one of them is a false alarm, whatever else it covers; lower severities are counted
beside them (an analyst's queue, not a page). The delivery trap asks two more questions: did
a record sent twice count twice, and was a record sent late reported late.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, get_args

from streams.events import Severity

if TYPE_CHECKING:
    from streams.evaluation.scoring import CallFact, Incident

SEVERITIES: tuple[str, ...] = get_args(Severity)
ALARM = "medium"  # the lowest severity that pages someone
DELIVERY = "duplicates_late"  # the row of the legitimate calls whose records came twice or late


def alarming(severity: str) -> bool:
    return SEVERITIES.index(severity) >= SEVERITIES.index(ALARM)


@dataclass
class TrapScore:
    trap: str
    calls: int
    false_alarms: int  # incidents at medium or above holding any of its calls
    alerted_calls: int  # its calls inside those incidents
    incidents: dict[str, dict[str, int]]  # detector -> severity -> incidents holding its calls
    flagged: dict[str, int]  # detector -> its calls flagged (per-call verdicts and windows)


def _members(calls: Mapping[str, CallFact]) -> dict[str, set[str]]:
    """trap -> its calls; the delivery row holds the legitimate calls sent twice or late."""
    out: dict[str, set[str]] = {}
    for rid, c in calls.items():
        if c.trap:
            out.setdefault(c.trap, set()).add(rid)
        if (c.duplicate or c.late_s) and not c.fraud:
            out.setdefault(DELIVERY, set()).add(rid)
    return out


def trap_scores(calls: Mapping[str, CallFact], incidents: Iterable[Incident],
                flagged: Mapping[str, set[str]]) -> list[TrapScore]:
    """One row per trap present in the labels, zeros included."""
    covering = [(inc, inc.record_ids) for inc in incidents]
    rows = []
    for trap, own in sorted(_members(calls).items()):
        seen: dict[str, Counter[str]] = {}
        alarms = 0
        alerted: set[str] = set()
        for inc, ids in covering:
            hit = ids & own
            if not hit:
                continue
            seen.setdefault(inc.detector, Counter())[inc.severity] += 1
            if alarming(inc.severity):
                alarms += 1
                alerted |= hit
        rows.append(TrapScore(
            trap=trap, calls=len(own), false_alarms=alarms, alerted_calls=len(alerted),
            incidents={d: {s: n[s] for s in SEVERITIES if n[s]} for d, n in sorted(seen.items())},
            flagged={d: len(ids & own) for d, ids in sorted(flagged.items()) if ids & own},
        ))
    return rows


@dataclass
class DeliveryScore:
    duplicated: int  # calls whose record was sent twice
    copies_in_time: int  # statistics' items of second copies that came within the lateness
    dropped_as_duplicates: int  # items the engine dropped as already counted
    late: int  # calls whose record was sent late
    late_routed: int  # of those, calls that feed a windowed statistic at all
    reported_late: int  # of those, calls the engine counted as late

    @property
    def counted_twice(self) -> int:
        """Second copies a window counted anyway; each call must count once, so 0."""
        return self.copies_in_time - self.dropped_as_duplicates


def delivery_score(calls: Mapping[str, CallFact], routed: set[str], reported_late: set[str],
                   copies_in_time: int, dropped: int) -> DeliveryScore | None:
    """None when no record was labelled duplicate or late."""
    late = {rid for rid, c in calls.items() if c.late_s}
    twice = sum(c.duplicate for c in calls.values())
    if not twice and not late:
        return None
    return DeliveryScore(
        duplicated=twice, copies_in_time=copies_in_time, dropped_as_duplicates=dropped,
        late=len(late), late_routed=len(late & routed), reported_late=len(late & reported_late),
    )
