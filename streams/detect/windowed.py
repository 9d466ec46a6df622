"""One fold for every windowed statistic: tumbling event-time windows per key, incidents.

State is a plain JSON-able dict so that a Faust table (changelog) can hold it. Folding calls
one at a time or in batches gives the same alerts, which is what keeps the worker and the
offline `detect` mode identical.

Thresholds are built from what the key had learned up to `lag_windows` windows earlier:
those windows are final once the stream passed them by the allowed lateness, whatever order
parallel partitions delivered their calls in, so every worker layout computes the same
threshold. Where a lagging partition has not passed them yet, the decision waits.

Lifecycle: a window whose statistic crosses its threshold opens an incident ("open", fired
at the crossing call's event time); each later fired window closes with an "update" carrying
its final figures; the first window that closes without firing (or a silent stretch of
one window) resolves it. Windows at half the threshold or more keep an incident open.
`alert_id` is fixed by detector, key and the incident's first window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from streams.events import Alert, Severity, alert_id

State = dict[str, Any]
# An open incident stays open while its windows keep at least this share of the threshold:
# a campaign hovering at the threshold gives one incident, not a flapping open/resolved pair.
HYSTERESIS = 0.5


class Item(NamedTuple):
    """The part of a call a keyed statistic needs; small, because it crosses a topic.

    A tuple, so that the keyed side rebuilds one from its JSON row in a single call.
    """

    ts: float
    record_id: str
    caller: str
    callee: str
    duration_s: float
    answered: bool
    note: Sequence[Any] | None = None  # (severity, score, reason) of a verdict
    tag: str = ""  # what else a statistic needs, e.g. the ingress trunk


class Family:
    """A windowed statistic: subclasses say how to aggregate, what crosses, how to explain."""

    detector: str = ""
    window_s: int = 300
    lateness_s: int = 0
    max_ids: int = 50
    # A statistic that is not monotone in the calls (a share) can only be judged on the
    # whole window: judged mid-window, it would depend on the order calls arrived in.
    decides_at_close: bool = False
    # Durable state lives in the changelog-backed table; a short-window heuristic touched by
    # nearly every call may keep it in worker memory instead (lost on restart, one window).
    durable: bool = True
    # Whether idle state still holds something learned (a baseline): if not, an idle key
    # is forgotten, so state tracks the keys active now, not every caller ever seen.
    learns: bool = False

    @property
    def lag_windows(self) -> int:
        """Windows between a window and the last one its threshold may learn from."""
        return 1 + -(-self.lateness_s // self.window_s)

    def window_start(self, ts: float) -> int:
        return int(ts // self.window_s) * self.window_s

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
    return {"win": {}, "closed": None, "wm": None, "inc": None, "last": None, "first": None,
            "snap": {}}


LEARNED = ("base", "seen", "hod", "cusum")
KEEP_SNAPSHOTS = 8


def _snapshot(state: State) -> State:
    return {k: list(v) if isinstance(v, list) else v
            for k in LEARNED if (v := state.get(k)) is not None}


def _view(fam: Family, state: State, ws: int, bound: float) -> State | None:
    """What the key had learned after every window up to `lag_windows` before `ws`, or None
    while the stream has not passed those windows yet (a lagging source may still add)."""
    size = fam.window_s
    cut = ws - fam.lag_windows * size
    if state["first"] is None or cut < state["first"]:
        return {}
    if bound < cut + size + fam.lateness_s:
        return None
    done = [int(w) for w in state["snap"] if int(w) <= cut]
    if not done:
        return {}
    last = max(done)
    view = _snapshot(state["snap"][str(last)])
    for _ in range((cut - last) // size):  # silent windows after it decay the baseline
        fam.learn(view, None)
    return view


def _settle(fam: Family, key: str, state: State, ws: int, agg: dict[str, Any],
            bound: float, at: float, out: list[Alert], final: bool = False) -> None:
    """Give a window its threshold once it can be known, and fire if it is crossed."""
    if agg["thr"] is None:
        view = _view(fam, state, ws, bound)
        if view is None:
            return
        agg["thr"], agg["base"] = fam.threshold(view, ws)
    if fam.decides_at_close and not final:
        return
    if not agg["fired"] and fam.crossed(agg):
        agg["fired"] = True
        if state["inc"] is None:
            state["inc"] = ws
            out.append(_alert(fam, key, state, ws, agg, "open", at))
        state["last"] = max(ws, state["last"] if state["last"] is not None else ws)


def _close(fam: Family, key: str, state: State, upto: float, out: list[Alert]) -> None:
    """Close every window that ends (plus lateness) at or before the watermark `upto`."""
    size = fam.window_s
    for ws_text in sorted(state["win"], key=int):
        ws = int(ws_text)
        if ws + size + fam.lateness_s > upto:
            break
        _resolve_quiet(fam, key, state, upto, ws, out)
        _settle(fam, key, state, ws, state["win"][ws_text], upto, ws + size, out, final=True)
        agg = state["win"].pop(ws_text)
        if state["closed"] is not None:
            for _ in range(max(0, (ws - state["closed"]) // size)):
                fam.learn(state, None)
        state["closed"] = ws + size
        fam.learn(state, agg)
        state["snap"][ws_text] = _snapshot(state)
        for old in sorted(state["snap"], key=int)[:-KEEP_SNAPSHOTS]:
            del state["snap"][old]
        sustained = state["inc"] is not None and fam.value(agg) >= agg["thr"] * HYSTERESIS
        if agg["fired"] or sustained:
            state["last"] = max(ws, state["last"])
            out.append(_alert(fam, key, state, ws, agg, "update", ws + size))
        elif state["inc"] is not None and ws > state["last"]:
            out.append(_alert(fam, key, state, ws, agg, "resolved", ws + size))
            state["inc"] = None
    _resolve_quiet(fam, key, state, upto, None, out)


def _resolve_quiet(fam: Family, key: str, state: State, upto: float, before: int | None,
                   out: list[Alert]) -> None:
    """An incident whose next window stayed silent resolves there, before any later window
    closes: in event-time order, however far `upto` jumped in one step."""
    if state["inc"] is None:
        return
    quiet = state["last"] + fam.window_s
    if (quiet + fam.window_s + fam.lateness_s <= upto and str(quiet) not in state["win"]
            and (before is None or quiet < before)):
        agg = {"n": 0, "ids": [], "thr": 1, "base": None, "fired": False}
        out.append(_alert(fam, key, state, quiet, agg, "resolved", quiet + fam.window_s))
        state["inc"] = None


def fold(
    fam: Family, key: str, state: State | None, items: list[Item], upto: float | None = None
) -> tuple[State, list[Alert], int]:
    """Apply calls in order; returns (new state, alerts, late calls not counted).

    Windows close as the calls' event time passes them, but never beyond the oldest call
    still to come in `items` (a batch interleaves source partitions) nor beyond `upto`, the
    stream time every source partition has reached: a call from a lagging partition is then
    still counted, not dropped as late. Offline (one ordered source) there is no such bound.
    """
    state = state if state is not None else new_state()
    out: list[Alert] = []
    late = 0
    bounds = [0.0] * len(items)
    low = float("inf") if upto is None else upto
    for i in range(len(items) - 1, -1, -1):
        low = min(low, items[i].ts)
        bounds[i] = low
    closed_to = None
    for item, bound in zip(items, bounds, strict=True):
        if bound != closed_to:
            # Bounds only grow, and a call never makes its own window closable at a bound
            # no later than its time: closing again at the same bound would find nothing.
            _close(fam, key, state, bound, out)
            closed_to = bound
        ws = fam.window_start(item.ts)
        if state["closed"] is not None and ws < state["closed"]:
            late += 1
            continue
        if state["first"] is None or ws < state["first"]:
            state["first"] = ws
        agg = state["win"].get(str(ws))
        if agg is None:
            agg = state["win"][str(ws)] = {"n": 0, "ids": [], "thr": None, "base": None,
                                           "fired": False}
        fam.add(agg, item)
        for other in sorted(state["win"], key=int):
            # only this call's window changed; others may just have learned their threshold
            win = state["win"][other]
            if win is agg or win["thr"] is None:
                _settle(fam, key, state, int(other), win, bound, item.ts, out)
        if state["wm"] is None or item.ts > state["wm"]:
            state["wm"] = item.ts
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
