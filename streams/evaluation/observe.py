"""Run the engine over labelled calls and record which calls every alert stands for.

Alerts carry only a sample of record_ids, so the fold here is `run_offline`'s, plus a note of
the calls in every (family, key, window): an alerted window flags all of its calls. Per-call
spoofing verdicts flag their call directly, and a callback alert the call it names.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streams.detect import callback
from streams.detect.calls import Call
from streams.detect.engine import OfflineResult, Routing, run_offline
from streams.detect.families import build_families
from streams.detect.formats import Misfit
from streams.evaluation.expected import EXPECTED, NORMAL
from streams.evaluation.scoring import (
    CallFact,
    Campaign,
    Evaluation,
    Hit,
    Incident,
    Table,
    campaign_outcomes,
    detector_scores,
    false_alarms,
    scenario_scores,
    volume,
)
from streams.evaluation.traps import SEVERITIES, delivery_score, trap_scores
from streams.evaluation.warned import Issued, warned_scores
from streams.events import Alert, CallEvent
from streams.policy import Policy
from streams.verdicts import call_verdict, subscriber_of
from streams.warnings import Warner

Window = tuple[str, str, int]  # (family, key, window start)


@dataclass
class Observation:
    """The engine's output over the calls, with the ground truth beside it."""

    calls: dict[str, CallFact] = field(default_factory=dict)
    flagged: dict[str, set[str]] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    detectors: list[str] = field(default_factory=list)
    routed: set[str] = field(default_factory=set)  # calls that fed any statistic
    late: set[str] = field(default_factory=set)  # calls a statistic received too late
    copies_in_time: int = 0  # statistics' items of records already read, not late
    duplicates: int = 0  # items the engine dropped as already counted in their window
    issued: list[Issued] | None = None  # the warnings, when the policy warns
    misdeclared: list[Misfit] = field(default_factory=list)  # trunks whose numbers fit badly


def _fact(call: Call, region: str, label: Mapping[str, Any] | None) -> CallFact:
    ev = call.event
    # a subscriber's own outbound call has no victim to warn: its callee is the destination
    callee = "" if ev.direction == "outbound" else subscriber_of(ev.called_number, region)
    who = dict(callee=callee, answered=ev.answered)
    if label is None:
        return CallFact(call.ts, call.caller_key, "unlabelled", **who)
    return CallFact(call.ts, call.caller_key, label.get("scenario") or NORMAL,
                    label.get("campaign"), bool(label.get("fraud")), label.get("trap"),
                    bool(label.get("duplicate")), float(label.get("late_s") or 0.0), **who)


def _issued(result: OfflineResult, policy: Policy) -> list[Issued]:
    """The offline warnings, each at the event time it could go out (streams/evaluation/
    warned.py)."""
    opened: dict[str, float] = {}
    for alert in result.alerts:
        at = alert.detected_at.timestamp()
        opened[alert.alert_id] = min(at, opened.get(alert.alert_id, at))
    warner = Warner(policy)
    out = []
    for c in result.covered:
        warning = warner.see(call_verdict(c, policy.home_country))
        if warning is not None:
            out.append(Issued(warning.subscriber, c.record_id,
                              max(c.ts, opened.get(c.alert_id, c.ts))))
    return out


def observe(events: Iterable[CallEvent], labels: Mapping[str, Mapping[str, Any]],
            policy: Policy) -> Observation:
    """`run_offline` itself (so the alerts are identical), noting the calls of each window."""
    families = build_families(policy)
    obs = Observation()
    members: dict[Window, list[str]] = defaultdict(list)
    flagged: dict[str, set[str]] = defaultdict(set)

    def note(routing: Routing, lates: list[int]) -> None:
        rid = routing.call.record_id
        again = rid in obs.calls
        obs.calls[rid] = _fact(routing.call, policy.home_country, labels.get(rid))
        for verdict in routing.verdicts:
            flagged[verdict.rule].add(rid)
        if routing.routed:
            obs.routed.add(rid)
        if any(lates):
            obs.late.add(rid)
        if again:
            obs.copies_in_time += lates.count(0)
        for (family, key, item), late in zip(routing.routed, lates, strict=True):
            if not late and item.tag != callback.TAG:  # a callback counts in no window
                members[(family, key, families[family].window_start(item.ts))].append(rid)

    result = run_offline(events, policy, on_call=note)
    obs.alerts = result.alerts
    obs.issued = _issued(result, policy) if policy.actions.warn else None
    obs.duplicates = result.duplicates
    obs.misdeclared = result.misdeclared

    by_id: dict[str, Incident] = {}
    for alert in obs.alerts:
        if alert.status == "resolved":
            continue
        window = (alert.detector, alert.key, int(alert.window_start.timestamp()))
        # a callback alert stands for its one call, which its record_ids name
        ids = frozenset(alert.record_ids if alert.detector == callback.DETECTOR
                        else members.get(window, ()))
        inc = by_id.get(alert.alert_id)
        if inc is None:
            inc = by_id[alert.alert_id] = Incident(alert.detector, alert.alert_id, alert.key,
                                                   alert.explanation)
        inc.hits.append(Hit(alert.detected_at.timestamp(), ids))
        inc.severity = max(inc.severity, alert.severity, key=SEVERITIES.index)
        flagged[alert.detector].update(ids)
    obs.incidents = sorted(by_id.values(), key=lambda i: (i.first_at, i.detector, i.key))
    obs.flagged = dict(flagged)
    obs.detectors = sorted(set(families) | set(flagged))
    return obs


def campaigns_from_labels(calls: Mapping[str, CallFact]) -> list[Campaign]:
    """Campaign summaries rebuilt from the labels when no campaigns file is given."""
    spans: dict[str, list[Any]] = {}
    for c in calls.values():
        if c.campaign is None or not c.fraud:
            continue  # normal traffic, or a trap (legitimate)
        s = spans.setdefault(c.campaign, [c.scenario, c.ts, c.ts, 0])
        s[1], s[2], s[3] = min(s[1], c.ts), max(s[2], c.ts), s[3] + 1
    return [Campaign(cid, sc, lo, hi, n) for cid, (sc, lo, hi, n) in sorted(
        spans.items(), key=lambda kv: kv[1][1])]


def evaluate(events: Iterable[CallEvent], labels: Mapping[str, Mapping[str, Any]],
             policy: Policy, campaigns: list[Campaign] | None = None,
             table: Table = EXPECTED) -> Evaluation:
    """Detect, attribute, score: the whole `cdrwatch evaluate` minus input and output."""
    began = time.perf_counter()
    obs = observe(events, labels, policy)
    calls = obs.calls
    stamps = [c.ts for c in calls.values()]
    t0, t1 = (min(stamps), max(stamps)) if stamps else (0.0, 0.0)
    days = max(t1 - t0, 1.0) / 86400
    camps = campaigns if campaigns is not None else campaigns_from_labels(calls)
    outcomes = campaign_outcomes(calls, obs.flagged, obs.incidents, camps, table)
    wanted = {d for s in {c.scenario for c in calls.values()} for d in table.get(s, ())}
    return Evaluation(
        detectors=detector_scores(calls, obs.flagged, obs.incidents, obs.detectors, days, table),
        scenarios=scenario_scores(calls, obs.flagged, outcomes, table),
        campaigns=outcomes,
        false_alarms=false_alarms(calls, obs.incidents),
        incidents=obs.incidents,
        missing=sorted(wanted - set(obs.detectors)),
        events=len(calls),
        days=round(days, 4),
        volume=volume(calls.values()),
        seconds=round(time.perf_counter() - began, 2),
        traps=trap_scores(calls, obs.incidents, obs.flagged),
        delivery=delivery_score(calls, obs.routed, obs.late, obs.copies_in_time, obs.duplicates),
        warned=None if obs.issued is None else warned_scores(calls, obs.issued),
        misdeclared=obs.misdeclared,
    )
