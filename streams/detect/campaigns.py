"""Statistics over caller-ID use and slow ramps: velocity, neighbour spoofing, CUSUM ramps."""

from __future__ import annotations

import math
from typing import Any

from streams.detect.windowed import Family, Item, State
from streams.policy import RampProfile, VelocityProfile


class VelocityFamily(Family):
    """One caller ID arriving from abroad and at home in one window, or a mobile with more
    simultaneous calls than a handset holds."""

    # Nearly every call feeds it, so a changelog write per caller would double the worker's
    # cost; a restart forgets at most one 10-minute window of it.
    durable = False

    def __init__(self, profile: VelocityProfile, lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "spoof_velocity", profile
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        return 2, None

    def add(self, agg: dict[str, Any], item: Item) -> None:
        super().add(agg, item)
        mobile, kind, trunk = item.tag.split("|", 2)
        trunks = agg.setdefault("trunks", [])
        if trunk not in trunks and len(trunks) < 64:
            trunks.append(trunk)
        if kind != "internal":
            side = "abroad" if kind == "international" else "home"
            sides = agg.setdefault("sides", {})
            sides[side] = sides.get(side, 0) + 1
        if mobile == "M":
            calls = agg.setdefault("iv", [])
            live = sum(1 for start, end in calls if start <= item.ts < end)
            agg["peak"] = max(agg.get("peak", 0), live + 1)
            if len(calls) < 256:
                calls.append([item.ts, item.ts + item.duration_s])

    def value(self, agg: dict[str, Any]) -> float:
        """2 when the number is both abroad and at home, or at its concurrency limit."""
        sides = agg.get("sides", {})
        both = sum(1 for n in sides.values() if n >= self.p.min_calls_each_side)
        return max(both, agg.get("peak", 0) / self.p.max_concurrent_mobile * 2)

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        trunks = ", ".join(agg.get("trunks", ()))
        where = " and ".join(f"{n} {side}" for side, n in agg.get("sides", {}).items())
        return (
            f"caller ID {key} used implausibly in {self.window_s // 60} min: {agg['n']} calls "
            f"({where}; trunks {trunks}); peak of {agg.get('peak', 1)} simultaneous "
            f"calls (a mobile holds at most {self.p.max_concurrent_mobile - 1})"
        )


class RampFamily(Family):
    """CUSUM of calls above a per-range baseline: catches campaigns that grow too slowly for
    the short window's floor. Restarts after each alarm, as a CUSUM chart does."""

    learns = True

    def __init__(self, profile: RampProfile, prior_mean: float, learning_rate: float,
                 lateness_s: int, max_ids: int) -> None:
        self.detector, self.p = "burst_ramp", profile
        self.prior, self.lr = prior_mean * profile.window_s / 300, learning_rate
        self.window_s, self.lateness_s, self.max_ids = profile.window_s, lateness_s, max_ids

    def _mean(self, state: State) -> float:
        return max(self.prior, state.get("base", self.prior))

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        mean = self._mean(state)
        need = self.p.decision - state.get("cusum", 0.0) + mean + self.p.allowance
        return max(2, math.ceil(need)), round(mean, 3)

    def learn(self, state: State, agg: dict[str, Any] | None) -> None:
        count = agg["n"] if agg else 0
        mean = self._mean(state)
        if agg is not None and agg["fired"]:
            state["cusum"] = 0.0
            return
        cusum = max(0.0, state.get("cusum", 0.0) + count - mean - self.p.allowance)
        state["cusum"] = round(cusum, 3)
        if cusum == 0.0:
            state["base"] = round((1 - self.lr) * mean + self.lr * count, 4)

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        return (
            f"slow ramp from {key}: {agg['n']} international calls in {self.window_s // 60} min "
            f"brought the cumulative excess over the baseline ({agg['base']:g} per window, "
            f"+{self.p.allowance:g} allowed) past {self.p.decision:g} calls (CUSUM)"
        )
