"""Statistics over caller-ID use and slow ramps: velocity, neighbour spoofing, CUSUM ramps."""

from __future__ import annotations

import math
from bisect import insort

from streams.detect.state import Learned, Window
from streams.detect.windowed import Family, Item
from streams.policy import RampProfile, VelocityProfile


class VelocityFamily(Family):
    """One caller ID arriving from abroad and at home in one window, or a mobile with more
    simultaneous calls than a handset holds."""

    # Nearly every call feeds it, so a changelog write per caller would double the worker's
    # cost; a restart forgets at most one 10-minute window of it.
    durable = False
    chains = False
    MAX_SPANS = 256

    def __init__(self, profile: VelocityProfile, lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "spoof_velocity", profile
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        return 2, None

    def add(self, win: Window, item: Item) -> None:
        mobile, kind, trunk = item.tag.split("|", 2)
        if trunk not in win.trunks and len(win.trunks) < 64:
            insort(win.trunks, trunk)
        if kind != "internal":
            side = "abroad" if kind == "international" else "home"
            win.sides[side] = win.sides.get(side, 0) + 1
        if mobile == "M" and len(win.spans) < self.MAX_SPANS:
            win.peak = max(win.peak, _add_span(win.spans, item.ts, item.ts + item.duration_s))

    def value(self, win: Window) -> float:
        """2 when the number is both abroad and at home, or at its concurrency limit."""
        both = sum(1 for n in win.sides.values() if n >= self.p.min_calls_each_side)
        return max(both, win.peak / self.p.max_concurrent_mobile * 2)

    def explain(self, key: str, win: Window) -> str:
        trunks = ", ".join(win.trunks)
        where = " and ".join(f"{n} {side}" for side, n in sorted(win.sides.items()))
        return (
            f"caller ID {key} used implausibly in {self.window_s // 60} min: {win.n} calls "
            f"({where}; trunks {trunks}); peak of {max(win.peak, 1)} simultaneous "
            f"calls (a mobile holds at most {self.p.max_concurrent_mobile - 1})"
        )


def _add_span(spans: list[tuple[float, float, int]], start: float, end: float) -> int:
    """Add a call's span; return the highest number of calls live at once at any call's
    start, counting every span known, so the peak does not depend on arrival order."""
    end = max(end, start + 1e-6)  # a zero-length call still holds the line at its start
    cover = 1
    peak = 0
    for i, (s, e, c) in enumerate(spans):
        if s <= start < e:
            cover += 1
        if start <= s < end:
            spans[i] = (s, e, c + 1)
            peak = max(peak, c + 1)
    spans.append((start, end, cover))
    return max(peak, cover)


class RampFamily(Family):
    """CUSUM of calls above a per-range baseline: catches campaigns that grow too slowly for
    the short window's floor. Restarts after each alarm, as a CUSUM chart does."""

    learns = True

    def __init__(self, profile: RampProfile, prior_mean: float, learning_rate: float,
                 lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "burst_ramp", profile
        self.prior, self.lr = prior_mean * profile.window_s / 300, learning_rate
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def _mean(self, learned: Learned) -> float:
        return max(self.prior, learned.base if learned.base is not None else self.prior)

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        mean = self._mean(learned)
        need = self.p.decision - learned.cusum + mean + self.p.allowance
        return max(2, math.ceil(need)), round(mean, 3)

    def learn(self, learned: Learned, win: Window, ws: int) -> None:
        if win.fired:
            learned.cusum = 0.0
            return
        mean = self._mean(learned)
        learned.cusum = max(0.0, learned.cusum + win.n - mean - self.p.allowance)
        if learned.cusum == 0.0:
            learned.base = (1 - self.lr) * mean + self.lr * win.n

    def decay(self, learned: Learned, windows: int) -> None:
        """`windows` empty windows: the CUSUM falls by mean + allowance each, and once it is
        at zero the baseline shrinks towards the prior (never below (1 - lr) * prior)."""
        if windows <= 0:
            return
        step = self._mean(learned) + self.p.allowance
        zero_after = max(1, math.ceil(learned.cusum / step))
        learned.cusum = max(0.0, learned.cusum - windows * step)
        shrinks = windows - zero_after + 1
        if shrinks > 0:
            learned.base = _shrink(learned.base if learned.base is not None else self.prior,
                                   self.prior, 1 - self.lr, shrinks)

    def explain(self, key: str, win: Window) -> str:
        return (
            f"slow ramp from {key}: {win.n} international calls in {self.window_s // 60} min "
            f"brought the cumulative excess over the baseline ({win.base:g} per window, "
            f"+{self.p.allowance:g} allowed) past {self.p.decision:g} calls (CUSUM)"
        )


def _shrink(base: float, prior: float, factor: float, steps: int) -> float:
    """`steps` times base <- factor * max(prior, base), in closed form."""
    if prior <= 0:
        return base * factor ** steps
    if base < prior:
        return factor * prior
    above = math.floor(math.log(prior / base) / math.log(factor)) + 1  # steps until < prior
    return base * factor ** steps if steps <= above else factor * prior
