"""The windowed statistics: international volume per range and country, fan-out, wangiri,
targeted subscriber, and the per-caller dedup of spoofing verdicts."""

from __future__ import annotations

from typing import Any

from streams.detect.campaigns import RampFamily, VelocityFamily
from streams.detect.countmodel import nb_tail, nb_threshold
from streams.detect.windowed import Family, Item, State
from streams.events import Severity
from streams.policy import BurstProfile, FanoutProfile, Policy, TargetProfile, WangiriProfile

NEVER = 10**9  # a threshold no window reaches (JSON has no infinity)
# Q.850 causes of an unanswered call released by the callee's side (busy, no answer,
# rejected): without a ringing time, they say the caller did not hang up after one ring.
CALLEE_RELEASES = frozenset({"17", "18", "19", "21"})
# Busy and rejected calls never rang, however short they were.
NEVER_RANG = frozenset({"17", "21"})


class BurstFamily(Family):
    """Calls per window against an EWMA baseline per hour of day, judged by an NB tail."""

    learns = True

    def __init__(self, detector: str, profile: BurstProfile, max_ids: int, warmup: int) -> None:
        self.detector = detector
        self.p = profile
        self.window_s = profile.window_s
        self.lateness_s = profile.allowed_lateness_s
        self.max_ids = max_ids
        self.warmup = warmup

    def _mean(self, state: State, ws: int) -> float:
        hour = int(ws // 3600) % 24  # UTC hour of the window
        hod = state.get("hod") or [None] * 24
        learned = hod[hour] if hod[hour] is not None else state.get("base", self.p.prior_mean)
        return max(self.p.prior_mean, learned)

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        mean = self._mean(state, ws)
        if state.get("seen", 0) < self.warmup:
            return NEVER, round(mean, 3)
        limit = nb_threshold(mean, self.p.dispersion, self.p.p_value)
        return max(self.p.min_count, limit), round(mean, 3)

    def learn(self, state: State, agg: dict[str, Any] | None) -> None:
        if agg is not None and agg["fired"]:
            return  # never learn an attack as normal
        lr = self.p.learning_rate
        count = agg["n"] if agg else 0
        base = state.get("base", self.p.prior_mean)
        state["base"] = round((1 - lr) * base + lr * count, 4)
        state["seen"] = state.get("seen", 0) + 1
        if agg is not None:
            hod = state.setdefault("hod", [None] * 24)
            hour = int((state["closed"] - self.window_s) // 3600) % 24
            prev = hod[hour] if hod[hour] is not None else base
            hod[hour] = round((1 - lr) * prev + lr * count, 4)

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        tail = nb_tail(agg["n"], agg["base"], self.p.dispersion)
        return (
            f"{agg['n']} international calls from {key} in {self.window_s // 60} min against a "
            f"baseline of {agg['base']:g} per window (threshold {agg['thr']:g}, "
            f"negative-binomial tail p={tail:.1e})"
        )


class DistinctFamily(Family):
    """Distinct counterparties per key per window: fan-out of a caller, callers of a callee."""

    def __init__(self, detector: str, window_s: int, lateness_s: int, minimum: int,
                 field: str, limit: int, max_ids: int, noun: str) -> None:
        self.detector, self.window_s, self.lateness_s = detector, window_s, lateness_s
        self.minimum, self.field, self.limit, self.max_ids, self.noun = (
            minimum, field, limit, max_ids, noun)

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        return self.minimum, None

    def add(self, agg: dict[str, Any], item: Item) -> None:
        super().add(agg, item)
        seen = agg.setdefault("set", [])
        other = getattr(item, self.field)
        if len(seen) < self.limit and other not in seen:
            seen.append(other)

    def value(self, agg: dict[str, Any]) -> float:
        return len(agg.get("set", ()))

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        return (
            f"{key}: {self.value(agg):g} distinct {self.noun} in {self.window_s // 60} min "
            f"({agg['n']} calls; threshold {agg['thr']:g})"
        )


class WangiriFamily(Family):
    """Many one-ring calls from one range: unanswered or shorter than a few seconds."""

    decides_at_close = True

    def __init__(self, profile: WangiriProfile, lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "wangiri_range", profile
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        return self.p.min_calls, None

    def add(self, agg: dict[str, Any], item: Item) -> None:
        super().add(agg, item)
        cause, ring_known = item.tag.split("|") if "|" in item.tag else (item.tag, "")
        if item.answered:
            short = item.duration_s < self.p.short_call_s
        elif ring_known:  # duration_s is the ringing time
            short = item.duration_s < self.p.max_ring_s and cause not in NEVER_RANG
        else:  # no ringing time: only the release cause tells who ended the call
            short = cause not in CALLEE_RELEASES
        agg["short"] = agg.get("short", 0) + short

    def value(self, agg: dict[str, Any]) -> float:
        return agg.get("short", 0)

    def crossed(self, agg: dict[str, Any]) -> bool:
        share = agg.get("short", 0) / max(agg["n"], 1)
        return self.value(agg) >= agg["thr"] and share >= self.p.min_short_share

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        share = agg.get("short", 0) / max(agg["n"], 1)
        return (
            f"wangiri signature from {key}: {agg.get('short', 0)} of {agg['n']} calls in "
            f"{self.window_s // 60} min ({share:.0%}) abandoned within {self.p.max_ring_s:g} s of "
            f"ringing or answered for under {self.p.short_call_s:g} s (threshold {agg['thr']:g} "
            f"calls and {self.p.min_short_share:.0%})"
        )


class SpoofFamily(Family):
    """Dedup of one rule's per-call verdicts on one caller ID: one incident, not 10,000 alerts."""

    def __init__(self, rule: str, window_s: int, lateness_s: int, max_ids: int) -> None:
        self.detector, self.window_s, self.lateness_s, self.max_ids = (
            rule, window_s, lateness_s, max_ids)

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        return 1, None

    def add(self, agg: dict[str, Any], item: Item) -> None:
        super().add(agg, item)
        if "note" not in agg and item.note:
            agg["note"] = list(item.note)
        callees = agg.setdefault("callees", [])
        if len(callees) < 1000 and item.callee not in callees:
            callees.append(item.callee)

    def rate(self, key: str, agg: dict[str, Any]) -> tuple[Severity, float]:
        severity, score, _ = agg.get("note") or ("medium", 0.5, "")
        return severity, float(score)

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        reason = (agg.get("note") or ("", 0, self.detector))[2]
        return (
            f"{reason}. {agg['n']} such call(s) to {len(agg.get('callees', ()))} subscriber(s) "
            f"in this {self.window_s // 60}-min window"
        )


# Each per-call rule and the [spoofing] switch that runs it: a rule switched off has no
# family, so an evaluation can tell "not run by this policy" from "run and missed".
SPOOF_RULES = {
    "spoof_protected": "protected",
    "spoof_domestic_from_abroad": "domestic_on_international",
    "spoof_unverified_roaming": "domestic_on_international",
    "spoof_invalid_caller": "invalid_caller_id",
    "spoof_stir_shaken": "stir_shaken",
    "spoof_network_mismatch": "network_mismatch",
    "spoof_lookalike": "lookalike",
}


def build_families(policy: Policy) -> dict[str, Family]:
    b: BurstProfile = policy.bursts
    f: FanoutProfile = policy.fanout
    t: TargetProfile = policy.targeted
    ids, late = policy.max_record_ids, b.allowed_lateness_s
    fams: dict[str, Family] = {
        rule: SpoofFamily(rule, policy.spoofing.dedup_window_s, late, ids)
        for rule, switch in SPOOF_RULES.items() if getattr(policy.spoofing, switch)
    }
    if b.enabled:
        fams["burst_range"] = BurstFamily("burst_range", b, ids, warmup=0)
        fams["burst_country"] = BurstFamily("burst_country", b, ids, b.country_warmup_windows)
    if f.enabled:
        fams["fanout_number"] = DistinctFamily(
            "fanout_number", f.window_s, late, f.min_distinct_callees, "callee", f.exact_limit,
            ids, "subscribers called")
    if policy.wangiri.enabled:
        fams["wangiri_range"] = WangiriFamily(policy.wangiri, late, ids)
    if t.enabled:
        fams["targeted_subscriber"] = DistinctFamily(
            "targeted_subscriber", t.window_s, late, t.min_distinct_callers, "caller", 4096,
            ids, "international callers")
    if policy.ramp.enabled:
        fams["burst_ramp"] = RampFamily(policy.ramp, b.prior_mean, b.learning_rate, late, ids)
    if policy.velocity.enabled:
        fams["spoof_velocity"] = VelocityFamily(policy.velocity, late, ids)
    n = policy.neighbour
    if n.enabled:
        fams["spoof_neighbour"] = DistinctFamily(
            "spoof_neighbour", n.window_s, late, n.min_distinct_callees, "callee", 4096, ids,
            f"subscribers called with a caller ID sharing their first {n.digits} digits")
    return fams
