"""The windowed statistics: international volume per range and country, fan-out, wangiri,
targeted subscriber, and the per-caller dedup of spoofing verdicts."""

from __future__ import annotations

from typing import Any

from streams.detect.campaigns import RampFamily, VelocityFamily
from streams.detect.countmodel import (
    excess_sample,
    nb_phi,
    nb_tail,
    nb_threshold,
    silent_moments,
    size_of,
)
from streams.detect.seasons import HOURS_IN_WEEK, local_slot
from streams.detect.state import Learned, Window
from streams.detect.windowed import Family, Item
from streams.events import Severity
from streams.policy import BurstProfile, FanoutProfile, Policy, TargetProfile, WangiriProfile

NEVER = 10**9  # a threshold no window reaches (JSON has no infinity)
# Q.850 causes of an unanswered call released by the callee's side (busy, no answer,
# rejected): without a ringing time, they say the caller did not hang up after one ring.
CALLEE_RELEASES = frozenset({"17", "18", "19", "21"})
# Busy and rejected calls never rang, however short they were.
NEVER_RANG = frozenset({"17", "21"})


class BurstFamily(Family):
    """Calls per window against a seasonal EWMA baseline in the operator's local time,
    judged by an NB tail whose size the key learns (docs/count-model.md)."""

    learns = True

    def __init__(self, detector: str, profile: BurstProfile, max_ids: int, warmup: int,
                 timezone: str, nouns: tuple[str, str]) -> None:
        self.detector = detector
        self.p = profile
        self.window_s = profile.window_s
        self.lateness_s = profile.allowed_lateness_s
        self.max_ids = max_ids
        self.warmup = warmup
        self.tz = timezone
        self.noun, self.nouns = nouns  # singular, plural
        self.min_distinct = profile.min_distinct_callees  # read on every call: no lookup
        # Windows of history after which an hour-of-week profile starts to learn; a slot it
        # has learned replaces the daily profile's hour.
        self.week = 7 * 86400 // profile.window_s

    def _mean(self, learned: Learned, ws: int) -> float:
        hour, slot = local_slot(ws, self.tz)
        at: float | None = None
        if learned.how is not None:
            at = learned.how[slot]
        if at is None and learned.hod is not None:
            at = learned.hod[hour]
        base = learned.base if learned.base is not None else self.p.prior_mean
        return max(self.p.prior_mean, at if at is not None else base)

    def phi(self, learned: Learned) -> tuple[float, float]:
        """The key's over-dispersion (1 / NB size) and its standard error."""
        p = self.p
        return nb_phi(learned.excess, learned.mean_sq, learned.windows, p.dispersion,
                      p.dispersion_prior_windows, p.dispersion_learning_rate)

    def judge(self, learned: Learned, ws: int, win: Window) -> None:
        mean = self._mean(learned, ws)
        phi, se = self.phi(learned)
        size = size_of(phi + se)  # one standard error wider: an estimate, not the truth
        win.base, win.size = round(mean, 3), round(size, 3)
        win.age = learned.windows if learned.seen else None  # None: the key's first window
        if learned.seen < self.warmup:
            win.thr = NEVER
            return
        win.thr = max(self.p.min_count, nb_threshold(mean, size, self.p.p_value))

    def add(self, win: Window, item: Item) -> None:
        if len(win.distinct) < self.min_distinct:
            win.distinct.add(item.callee)

    def crossed(self, win: Window) -> bool:
        return (win.thr is not None and win.n >= win.thr
                and len(win.distinct) >= self.min_distinct)

    def decay(self, learned: Learned, windows: int) -> None:
        """Silent windows are zero counts: they lower the baseline and enter the variance
        moments (else a sparse key would look tamer than it is), all in closed form."""
        if windows <= 0:
            return
        lr = self.p.learning_rate
        if learned.base is not None:
            learned.excess, learned.mean_sq = silent_moments(
                learned.excess, learned.mean_sq, learned.base, windows,
                self.p.dispersion_learning_rate, lr)
            learned.windows += windows
            learned.base *= (1 - lr) ** windows
        learned.seen += windows

    def learn(self, learned: Learned, win: Window, ws: int) -> None:
        learned.undo = None  # this window changes no hour-of-week slot unless set below
        # A window that crossed is learned only up to its threshold, and not at all into the
        # spread: an attack moves the level by no more than the model already called
        # possible, and a level that persists (a new call centre) becomes the key's normal
        # within hours, not never.
        fired = win.fired and win.thr is not None
        n = min(win.n, win.thr) if fired else win.n
        p = self.p
        lr, vr = p.learning_rate, p.dispersion_learning_rate
        mean = self._mean(learned, ws)  # the seasonal mean this window is a residual from
        if not fired:
            learned.excess = (1 - vr) * learned.excess + vr * excess_sample(n, mean, lr)
            learned.mean_sq = (1 - vr) * learned.mean_sq + vr * mean * mean
            learned.windows += 1
        base = learned.base if learned.base is not None else p.prior_mean
        learned.base = (1 - lr) * base + lr * n
        learned.seen += 1
        hour, slot = local_slot(ws, self.tz)
        hod = learned.hod if learned.hod is not None else [None] * 24
        at_hour = hod[hour]
        prev = at_hour if at_hour is not None else base
        hod[hour] = (1 - lr) * prev + lr * n
        learned.hod = hod
        if learned.seen > self.week:  # a week of history: each weekday's hours of its own,
            # each starting from the daily profile, which by now has learned the hour
            how = learned.how if learned.how is not None else [None] * HOURS_IN_WEEK
            at_slot = how[slot]
            how[slot] = (1 - lr) * (at_slot if at_slot is not None else prev) + lr * n
            learned.how, learned.undo = how, (slot, at_slot)

    def explain(self, key: str, win: Window) -> str:
        size = win.size if win.size is not None else self.p.dispersion
        tail = nb_tail(win.n, win.base or 0.0, size)
        minutes = self.window_s // 60
        if win.age is None:
            history = (f"{self.noun} never seen; new {self.nouns} bring "
                       f"{self.p.prior_mean:g} calls per {minutes} min here")
        elif not win.age:
            history = (f"{self.noun} seen, but every window of it so far crossed: spread "
                       f"not learned, NB size {size:.3g} from the prior")
        else:
            history = f"spread learned from {win.age} windows: NB size {size:.3g}"
        callees = len(win.distinct)
        more = "+" if callees >= self.min_distinct else ""
        return (
            f"{win.n} international calls from {key} to {callees}{more} subscribers in "
            f"{minutes} min against a baseline of {win.base:g} per window ({history}; "
            f"threshold {win.thr:g}, negative-binomial tail p={tail:.1e})"
        )


class DistinctFamily(Family):
    """Distinct counterparties per key per window: fan-out of a caller, callers of a callee."""

    def __init__(self, detector: str, window_s: int, lateness_s: int, minimum: int,
                 field: str, limit: int, max_ids: int, noun: str) -> None:
        self.detector, self.window_s, self.lateness_s = detector, window_s, lateness_s
        self.minimum, self.field, self.limit, self.max_ids, self.noun = (
            minimum, field, limit, max_ids, noun)

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        return self.minimum, None

    def add(self, win: Window, item: Item) -> None:
        if len(win.distinct) < self.limit:
            win.distinct.add(getattr(item, self.field))

    def value(self, win: Window) -> float:
        return len(win.distinct)

    def explain(self, key: str, win: Window) -> str:
        return (
            f"{key}: {self.value(win):g} distinct {self.noun} in {self.window_s // 60} min "
            f"({win.n} calls; threshold {win.thr:g})"
        )


class WangiriFamily(Family):
    """Many one-ring calls from one range: unanswered or shorter than a few seconds."""

    decides_at_close = True

    def __init__(self, profile: WangiriProfile, lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "wangiri_range", profile
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        return self.p.min_calls, None

    def add(self, win: Window, item: Item) -> None:
        cause, ring_known = item.tag.split("|") if "|" in item.tag else (item.tag, "")
        if item.answered:
            short = item.duration_s < self.p.short_call_s
        elif ring_known:  # duration_s is the ringing time
            short = item.duration_s < self.p.max_ring_s and cause not in NEVER_RANG
        else:  # no ringing time: only the release cause tells who ended the call
            short = cause not in CALLEE_RELEASES
        win.short += short

    def value(self, win: Window) -> float:
        return win.short

    def crossed(self, win: Window) -> bool:
        share = win.short / max(win.n, 1)
        return super().crossed(win) and share >= self.p.min_short_share

    def explain(self, key: str, win: Window) -> str:
        share = win.short / max(win.n, 1)
        return (
            f"wangiri signature from {key}: {win.short} of {win.n} calls in "
            f"{self.window_s // 60} min ({share:.0%}) abandoned within {self.p.max_ring_s:g} s of "
            f"ringing or answered for under {self.p.short_call_s:g} s (threshold {win.thr:g} "
            f"calls and {self.p.min_short_share:.0%})"
        )


class SpoofFamily(Family):
    """Dedup of one rule's per-call verdicts on one caller ID: one incident per window, not
    10,000 alerts. Each window is its own incident, so the first call opens it at once."""

    chains = False

    def __init__(self, rule: str, window_s: int, lateness_s: int, max_ids: int) -> None:
        self.detector, self.window_s, self.lateness_s, self.max_ids = (
            rule, window_s, lateness_s, max_ids)

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        return 1, None

    def add(self, win: Window, item: Item) -> None:
        if item.note and (win.note is None or _rank(item.note) > _rank(win.note)):
            win.note = tuple(item.note)  # the highest score, whatever order calls came in
        if len(win.distinct) < 1000:
            win.distinct.add(item.callee)

    def rate(self, key: str, win: Window) -> tuple[Severity, float]:
        severity, score, _ = win.note or ("medium", 0.5, "")
        return severity, float(score)  # type: ignore[return-value]

    def explain(self, key: str, win: Window) -> str:
        reason = (win.note or ("", 0, self.detector))[2]
        return (
            f"{reason}. {win.n} such call(s) to {len(win.distinct)} subscriber(s) "
            f"in this {self.window_s // 60}-min window"
        )


def _rank(note: Any) -> tuple[float, str, str]:
    severity, score, reason = note
    return float(score), str(severity), str(reason)


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
        fams["burst_range"] = BurstFamily("burst_range", b, ids, 0, policy.timezone,
                                          ("range", "ranges"))
        fams["burst_country"] = BurstFamily("burst_country", b, ids, b.country_warmup_windows,
                                            policy.timezone, ("country", "countries"))
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
    for fam in fams.values():
        fam.marks = policy.actions.verdicts
    if policy.callback.enabled:
        for name in policy.callback.detectors:
            if name in fams:
                fams[name].remember_s = round(policy.callback.window_h * 3600)
    return fams
