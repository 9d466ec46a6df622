"""One fold for every windowed statistic: tumbling event-time windows per key, incidents.

State is a plain JSON-able dict so that a Faust table (changelog) can hold it. Folding calls
one at a time or in batches gives the same alerts, which is what keeps the worker and the
offline `detect` mode identical.

Lifecycle: a window whose statistic crosses its threshold opens an incident ("open", fired
at the crossing call's event time); each later fired window closes with an "update" carrying
its final figures; the first window that closes without firing (or a silent stretch of
one window) resolves it. Windows at half the threshold or more keep an incident open.
`alert_id` is fixed by detector, key and the incident's first window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from streams.events import Alert, Severity, alert_id

State = dict[str, Any]
# An open incident stays open while its windows keep at least this share of the threshold:
# a campaign hovering at the threshold gives one incident, not a flapping open/resolved pair.
HYSTERESIS = 0.5


@dataclass(frozen=True, slots=True)
class Item:
    """The part of a call a keyed statistic needs; small, because it crosses a topic."""

    ts: float
    record_id: str
    caller: str
    callee: str
    duration_s: float
    answered: bool
    note: tuple[str, float, str] | None = None  # (severity, score, reason) of a verdict
    tag: str = ""  # what else a statistic needs, e.g. the ingress trunk

    def pack(self) -> list[Any]:
        return [self.ts, self.record_id, self.caller, self.callee, self.duration_s,
                self.answered, list(self.note) if self.note else None, self.tag]

    @classmethod
    def unpack(cls, row: list[Any]) -> Item:
        note = tuple(row[6]) if row[6] else None
        return cls(*row[:6], note, row[7])  # type: ignore[arg-type]


class Family:
    """A windowed statistic: subclasses say how to aggregate, what crosses, how to explain."""

    detector: str = ""
    window_s: int = 300
    lateness_s: int = 0
    max_ids: int = 50

    def new_agg(self, state: State, ws: int) -> dict[str, Any]:
        threshold, baseline = self.threshold(state, ws)
        return {"n": 0, "ids": [], "thr": threshold, "base": baseline, "fired": False}

    def add(self, agg: dict[str, Any], item: Item) -> None:
        agg["n"] += 1
        if len(agg["ids"]) < self.max_ids:
            agg["ids"].append(item.record_id)

    def value(self, agg: dict[str, Any]) -> float:
        return agg["n"]

    def crossed(self, agg: dict[str, Any]) -> bool:
        return self.value(agg) >= agg["thr"]

    def threshold(self, state: State, ws: int) -> tuple[float, float | None]:
        raise NotImplementedError

    def learn(self, state: State, agg: dict[str, Any] | None) -> None:
        """Fold a closed window (None: an empty one) into the key's baseline or running sums."""

    def rate(self, key: str, agg: dict[str, Any]) -> tuple[Severity, float]:
        ratio = self.value(agg) / max(agg["thr"], 1)
        severity: Severity = "critical" if ratio >= 4 else "high" if ratio >= 2 else "medium"
        return severity, round(min(0.99, 0.5 + 0.5 * (1 - 1 / max(ratio, 1))), 4)

    def explain(self, key: str, agg: dict[str, Any]) -> str:
        raise NotImplementedError


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _alert(fam: Family, key: str, state: State, ws: int, agg: dict[str, Any], status: str,
           at: float) -> Alert:
    severity, score = fam.rate(key, agg)
    return Alert(
        alert_id=alert_id(fam.detector, key, _dt(state["inc"])),
        detector=fam.detector,
        severity=severity if status != "resolved" else "info",
        score=score if status != "resolved" else 0.0,
        status=status,  # type: ignore[arg-type]
        key=key,
        window_start=_dt(ws),
        window_end=_dt(ws + fam.window_s),
        detected_at=_dt(at),
        observed=fam.value(agg),
        baseline=agg["base"],
        record_ids=list(agg["ids"]),
        explanation=(
            fam.explain(key, agg) if status != "resolved" else _resolution(fam, key, ws, agg)
        ),
    )


def _resolution(fam: Family, key: str, ws: int, agg: dict[str, Any]) -> str:
    if not agg["n"]:
        return f"{fam.detector} on {key}: no calls in the window from {_dt(ws).isoformat()}"
    return (
        f"{fam.detector} on {key} back below threshold ({fam.value(agg):g} < {agg['thr']:g}) "
        f"in the window from {_dt(ws).isoformat()}"
    )


def new_state() -> State:
    return {"win": {}, "closed": None, "wm": None, "inc": None, "last": None}


def _close(fam: Family, key: str, state: State, upto: float, out: list[Alert]) -> None:
    """Close every window that ends (plus lateness) at or before the watermark `upto`."""
    size = fam.window_s
    for ws_text in sorted(state["win"], key=int):
        ws = int(ws_text)
        if ws + size + fam.lateness_s > upto:
            break
        agg = state["win"].pop(ws_text)
        if state["closed"] is not None:
            for _ in range(max(0, (ws - state["closed"]) // size)):
                fam.learn(state, None)
        state["closed"] = ws + size
        fam.learn(state, agg)
        sustained = state["inc"] is not None and fam.value(agg) >= agg["thr"] * HYSTERESIS
        if agg["fired"] or sustained:
            state["last"] = max(ws, state["last"])
            out.append(_alert(fam, key, state, ws, agg, "update", ws + size))
        elif state["inc"] is not None and ws > state["last"]:
            out.append(_alert(fam, key, state, ws, agg, "resolved", ws + size))
            state["inc"] = None
    if state["inc"] is not None and state["last"] + 2 * size + fam.lateness_s <= upto \
            and str(state["last"] + size) not in state["win"]:
        quiet = state["last"] + size
        agg = {"n": 0, "ids": [], "thr": 1, "base": None, "fired": False}
        out.append(_alert(fam, key, state, quiet, agg, "resolved", quiet + size))
        state["inc"] = None


def fold(
    fam: Family, key: str, state: State | None, items: list[Item]
) -> tuple[State, list[Alert], int]:
    """Apply calls in order; returns (new state, alerts, late calls not counted)."""
    state = state if state is not None else new_state()
    out: list[Alert] = []
    late = 0
    size = fam.window_s
    for item in items:
        ws = int(item.ts // size) * size
        if state["closed"] is not None and ws < state["closed"]:
            late += 1
            continue
        agg = state["win"].get(str(ws))
        if agg is None:
            agg = state["win"][str(ws)] = fam.new_agg(state, ws)
        fam.add(agg, item)
        if not agg["fired"] and fam.crossed(agg):
            agg["fired"] = True
            if state["inc"] is None:
                state["inc"] = ws
                out.append(_alert(fam, key, state, ws, agg, "open", item.ts))
            state["last"] = max(ws, state["last"] or ws)
        if state["wm"] is None or item.ts > state["wm"]:
            state["wm"] = item.ts
            _close(fam, key, state, item.ts, out)
    return state, out, late


def flush(fam: Family, key: str, state: State, upto: float | None = None
          ) -> tuple[State, list[Alert]]:
    """Close the windows of a key that went silent, so a stale incident resolves too.

    `upto` is the stream time its partition has reached (the key's windows close as if it had
    called then); None means the stream ended or paused: close everything, as the offline mode
    does at the end of its input.
    """
    out: list[Alert] = []
    if state["wm"] is not None:
        end = state["wm"] + 2 * fam.window_s + fam.lateness_s
        _close(fam, key, state, end if upto is None else min(upto, end), out)
    return state, out


def is_idle(state: State) -> bool:
    """Nothing left to close or resolve."""
    return not state["win"] and state["inc"] is None
