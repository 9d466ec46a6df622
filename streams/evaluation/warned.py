"""Warnings against the ground truth: of the subscribers who answered a fraud call, how many
were warned, and how long after their first contact (event time) a warning could go out.

A warning can go out once its call is marked: at the call itself when its incident is open
already, else when the incident opens. So its event time is the later of the two, the same
moment the worker publishes it at (streams/agents/keyed.py), less the transport.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import median, quantiles
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.evaluation.scoring import CallFact

ALL = "all fraud"


@dataclass(frozen=True, slots=True)
class Issued:
    """One warning as the evaluation sees it."""

    subscriber: str
    record_id: str  # the call that warned them
    at: float  # event time it could be sent


@dataclass(frozen=True, slots=True)
class WarnScore:
    scenario: str
    victims: int  # distinct subscribers who answered a fraud call of the scenario
    warned: int  # of them, warned on a call of the scenario
    share: float | None
    median_delay_s: float | None  # from the victim's first answered fraud call to the warning
    p90_delay_s: float | None


@dataclass(frozen=True, slots=True)
class Warned:
    rows: list[WarnScore]
    false_warnings: int  # warnings given on a legitimate call
    warnings: int


def _p90(values: list[float]) -> float | None:
    if not values:
        return None
    return values[0] if len(values) == 1 else quantiles(values, n=10, method="inclusive")[-1]


def _row(scenario: str, contact: Mapping[str, float], delays: Mapping[str, float]) -> WarnScore:
    lags = sorted(delays.values())
    return WarnScore(scenario, len(contact), len(delays),
                     round(len(delays) / len(contact), 4) if contact else None,
                     median(lags) if lags else None, _p90(lags))


def warned_scores(calls: Mapping[str, CallFact], issued: Iterable[Issued]) -> Warned:
    """One row per fraud scenario with answered victims, and one for all fraud."""
    first: dict[str, dict[str, float]] = {}  # scenario (and ALL) -> subscriber -> contact
    for c in calls.values():
        if c.fraud and c.answered and c.callee:
            for scenario in (c.scenario, ALL):
                seen = first.setdefault(scenario, {})
                seen[c.callee] = min(c.ts, seen.get(c.callee, c.ts))
    delays: dict[str, dict[str, float]] = {}  # scenario -> subscriber -> first warning's delay
    false_warnings = warnings = 0
    for w in issued:
        warnings += 1
        call = calls.get(w.record_id)
        if call is None or not call.fraud:
            false_warnings += 1
            continue
        contact = first.get(call.scenario, {}).get(w.subscriber)
        if contact is None:
            continue  # warned on a fraud call they did not answer as the labels have it
        at = max(w.at, contact)  # a warning cannot precede the contact it is about
        for scenario in (call.scenario, ALL):
            lag = at - first[scenario][w.subscriber]
            got = delays.setdefault(scenario, {})
            got[w.subscriber] = min(lag, got.get(w.subscriber, lag))
    scenarios = sorted(s for s in first if s != ALL)
    rows = [_row(s, first[s], delays.get(s, {})) for s in scenarios]
    if len(rows) > 1:
        rows.append(_row(ALL, first[ALL], delays.get(ALL, {})))
    return Warned(rows, false_warnings, warnings)
