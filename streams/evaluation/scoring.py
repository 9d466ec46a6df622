"""Pure metrics: which calls each detector flagged vs the ground truth, per detector and scenario.

Inputs are plain data (no engine, no files) so that the tests can build them by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from statistics import median
from typing import TYPE_CHECKING

from streams.evaluation.expected import NORMAL, expected_for, targets

if TYPE_CHECKING:
    from streams.detect.formats import Misfit
    from streams.evaluation.traps import DeliveryScore, TrapScore
    from streams.evaluation.warned import Warned

Table = Mapping[str, tuple[str, ...]]
# An incident is a false alarm when less than this share of its calls are fraud.
FRAUD_MAJORITY = 0.5


@dataclass(frozen=True, slots=True)
class CallFact:
    """One call's truth (label) and the caller ID the detectors key it by."""

    ts: float
    caller: str
    scenario: str = NORMAL
    campaign: str | None = None
    fraud: bool = False
    trap: str | None = None  # the generator's trap that made this legitimate call
    duplicate: bool = False  # its record was sent twice
    late_s: float = 0.0  # its record was sent this much later than the usual bound
    callee: str = ""  # the called subscriber, as a warning names them
    answered: bool = False


@dataclass(frozen=True, slots=True)
class Hit:
    """One alerted window: when the detector spoke, and every call that fell in the window."""

    at: float
    record_ids: frozenset[str]


@dataclass
class Incident:
    """All alerts sharing one alert_id (open + updates), with the calls behind them."""

    detector: str
    alert_id: str
    key: str
    explanation: str
    hits: list[Hit] = field(default_factory=list)
    severity: str = "info"  # the worst of its alerts

    @property
    def first_at(self) -> float:
        return min(h.at for h in self.hits)

    @property
    def record_ids(self) -> set[str]:
        return set().union(*(h.record_ids for h in self.hits))


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    scenario: str
    start: float
    end: float
    calls: int


def ratio(num: int, den: int) -> float | None:
    """None rather than 0 or 1 when there is nothing to measure."""
    return round(num / den, 4) if den else None


def fraud_share(calls: Mapping[str, CallFact], ids: Iterable[str]) -> float | None:
    known = [calls[r].fraud for r in ids if r in calls]
    return ratio(sum(known), len(known))


def false_alarms(calls: Mapping[str, CallFact], incidents: Iterable[Incident]) -> list[Incident]:
    """Incidents whose calls are mostly normal traffic."""
    out = []
    for inc in incidents:
        share = fraud_share(calls, inc.record_ids)
        if share is not None and share < FRAUD_MAJORITY:
            out.append(inc)
    return out


@dataclass
class DetectorScore:
    detector: str
    flagged: int
    true_flagged: int
    precision: float | None
    target: int
    recall: float | None
    ids_flagged: int
    id_precision: float | None
    ids_target: int
    id_recall: float | None
    incidents: int
    false_alarms: int
    false_alarms_per_day: float | None


def detector_scores(calls: Mapping[str, CallFact], flagged: Mapping[str, set[str]],
                    incidents: list[Incident], detectors: Iterable[str], days: float,
                    table: Table) -> list[DetectorScore]:
    """Per call and per caller ID; a caller ID is a false positive when none of its flagged
    calls is fraud, and is recalled when any of its target calls is flagged."""
    meant = targets(table)
    false = false_alarms(calls, incidents)
    rows = []
    for det in detectors:
        hit = {r for r in flagged.get(det, set()) if r in calls}
        true = {r for r in hit if calls[r].fraud}
        target = {r for r, c in calls.items() if c.scenario in meant.get(det, ())}
        ids = {calls[r].caller for r in hit}
        true_ids = {calls[r].caller for r in true}
        target_ids = {calls[r].caller for r in target}
        found_ids = {calls[r].caller for r in target & hit}
        n_false = sum(i.detector == det for i in false)
        rows.append(DetectorScore(
            detector=det, flagged=len(hit), true_flagged=len(true),
            precision=ratio(len(true), len(hit)), target=len(target),
            recall=ratio(len(target & hit), len(target)),
            ids_flagged=len(ids), id_precision=ratio(len(true_ids), len(ids)),
            ids_target=len(target_ids), id_recall=ratio(len(found_ids), len(target_ids)),
            incidents=sum(i.detector == det for i in incidents), false_alarms=n_false,
            false_alarms_per_day=round(n_false / days, 2) if days > 0 else None,
        ))
    return rows


@dataclass
class CampaignOutcome:
    id: str
    scenario: str
    start: float
    calls: int
    expected: tuple[str, ...]
    detector: str | None  # the expected detector that spoke first
    latency_s: float | None
    recall: float | None  # share of its calls flagged by an expected detector
    latency_by: dict[str, float]  # every detector that alerted on its calls -> latency (s)

    @property
    def detected(self) -> bool:
        return self.detector is not None

    @property
    def others(self) -> list[str]:
        """Detectors not meant for this scenario that alerted on its calls."""
        return sorted(set(self.latency_by) - set(self.expected))


def campaign_outcomes(calls: Mapping[str, CallFact], flagged: Mapping[str, set[str]],
                      incidents: list[Incident], campaigns: list[Campaign],
                      table: Table) -> list[CampaignOutcome]:
    """Latency is event time from the campaign's first call to the first alert that already
    had one of its calls in the alerted window; the earliest expected detector decides."""
    members: dict[str, list[str]] = {}
    for rid, c in calls.items():
        if c.campaign is not None:
            members.setdefault(c.campaign, []).append(rid)
    out = []
    for camp in campaigns:
        own = set(members.get(camp.id, ()))
        expected = expected_for(camp.scenario, table)
        first: dict[str, float] = {}
        for inc in incidents:
            for hit in inc.hits:
                if any(calls[r].ts <= hit.at for r in hit.record_ids & own):
                    first[inc.detector] = min(hit.at, first.get(inc.detector, hit.at))
        latency = {d: round(at - camp.start, 1) for d, at in sorted(first.items())}
        mine = sorted((latency[d], d) for d in expected if d in latency)
        caught = set().union(*(flagged.get(d, set()) for d in expected)) & own
        out.append(CampaignOutcome(
            id=camp.id, scenario=camp.scenario, start=camp.start, calls=len(own) or camp.calls,
            expected=expected, detector=mine[0][1] if mine else None,
            latency_s=mine[0][0] if mine else None, recall=ratio(len(caught), len(own)),
            latency_by=latency,
        ))
    return out


@dataclass
class ScenarioScore:
    scenario: str
    calls: int
    expected: tuple[str, ...]
    recall: float | None  # flagged by any expected detector
    recall_any: float | None  # flagged by any detector at all
    id_recall: float | None
    campaigns: int
    detected: int
    latency_s: float | None  # median over detected campaigns
    by_detector: dict[str, int]


def scenario_scores(calls: Mapping[str, CallFact], flagged: Mapping[str, set[str]],
                    outcomes: list[CampaignOutcome], table: Table) -> list[ScenarioScore]:
    """One row per scenario present in the labels, normal traffic included (its recall_any
    is then the share of normal calls flagged: the false-positive rate per call)."""
    by_scenario: dict[str, set[str]] = {}
    for rid, c in calls.items():
        by_scenario.setdefault(c.scenario, set()).add(rid)
    rows = []
    for scenario in sorted(by_scenario, key=lambda s: (s == NORMAL, s)):
        own = by_scenario[scenario]
        expected = expected_for(scenario, table)
        caught = set().union(*(flagged.get(d, set()) for d in expected)) & own
        by_det = {d: len(ids & own) for d, ids in sorted(flagged.items()) if ids & own}
        anyhow = set().union(*flagged.values()) & own if flagged else set()
        callers = {calls[r].caller for r in own}
        mine = [o for o in outcomes if o.scenario == scenario]
        lat = [o.latency_s for o in mine if o.latency_s is not None]
        rows.append(ScenarioScore(
            scenario=scenario, calls=len(own), expected=expected,
            recall=ratio(len(caught), len(own)) if expected else None,
            recall_any=ratio(len(anyhow), len(own)),
            id_recall=ratio(len({calls[r].caller for r in caught}), len(callers))
            if expected else None,
            campaigns=len(mine), detected=sum(o.detected for o in mine),
            latency_s=round(median(lat), 1) if lat else None, by_detector=by_det,
        ))
    return rows


@dataclass
class Evaluation:
    """Everything the report, the JSON and the chart need."""

    detectors: list[DetectorScore]
    scenarios: list[ScenarioScore]
    campaigns: list[CampaignOutcome]
    false_alarms: list[Incident]
    incidents: list[Incident]
    missing: list[str]  # expected detectors the engine does not run (absent or switched off)
    events: int
    days: float
    volume: list[tuple[float, int, int]]  # (bin start, calls, fraud calls) per 5 min
    seconds: float = 0.0
    traps: list[TrapScore] = field(default_factory=list)
    delivery: DeliveryScore | None = None  # when records were labelled duplicate or late
    warned: Warned | None = None  # when the policy warns subscribers
    misdeclared: list[Misfit] = field(default_factory=list)  # trunks whose numbers fit badly


def volume(calls: Iterable[CallFact], bin_s: int = 300) -> list[tuple[float, int, int]]:
    """Calls and fraud calls per event-time bin, gaps included (so a plot shows silence)."""
    counts: dict[int, list[int]] = {}
    for c in calls:
        b = counts.setdefault(int(c.ts // bin_s), [0, 0])
        b[0] += 1
        b[1] += c.fraud
    if not counts:
        return []
    lo, hi = min(counts), max(counts)
    return [(k * bin_s, *counts.get(k, [0, 0])) for k in range(lo, hi + 1)]  # type: ignore[misc]
