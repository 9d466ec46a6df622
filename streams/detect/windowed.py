"""One fold for every windowed statistic: event-time windows per key, and their incidents.

The outcome depends only on which calls fall in which window, never on the order they
arrived in or on how they were batched: `fold` counts a call once (by source position and
by record_id), `advance` closes windows in event-time order once the watermark passes their
end plus the allowed lateness, and an incident's identity comes from event time alone.

Thresholds are built from what the key had learned up to `lag_windows` windows earlier:
those windows are final once the watermark reaches the window being judged.

Lifecycle of a chaining family (bursts): a run of consecutive active windows is one
incident, started by a window that crossed its threshold; a window stays active while it
keeps `HYSTERESIS` of its threshold. The open alert names the incident's first window, so
it is emitted once every earlier slot is final (at most the allowed lateness after that
window starts) and carries the figures of the crossing; every active window closes with an
"update" of its final figures (but a window judged only at its close, whose open already
gave them); the first inactive or silent slot resolves it. A family
that does not chain (per-call spoofing dedup, velocity) makes each crossing window its own
incident: "open" at the crossing call, "resolved" with the final figures at its close.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from streams.detect import callback, sketch
from streams.detect.state import KeyState, Learned, Window
from streams.events import Alert, Severity, alert_id, dump_alert, load_alert

# An open incident stays open while its windows keep at least this share of the threshold:
# a campaign hovering at the threshold gives one incident, not a flapping open/resolved pair.
HYSTERESIS = 0.5
# A window counts its calls exactly up to this many, then by a sketch (within about 1%):
# what one key holds stays far below a message's size whatever a campaign sends.
EXACT_CALLS = 4096
# Calls a window keeps until it is known whether an incident covers it (then each gets its
# verdict): a window past this many keeps counting, and its later calls get a verdict
# only once the window is marked.
MAX_KEPT = EXACT_CALLS


class Item(NamedTuple):
    """The part of a call a keyed statistic needs; small, because it crosses a topic."""

    ts: float
    record_id: str
    caller: str
    callee: str
    duration_s: float
    answered: bool
    note: Any = None  # (severity, score, reason) of a verdict
    tag: str = ""  # what else a statistic needs, e.g. the ingress trunk
    src: int = 0  # source partition
    pos: int = -1  # position in it (offset and index in the message); -1: unknown


@dataclass(slots=True)
class FoldStats:
    """Calls a fold did not count, by why."""

    late: int = 0  # their window was already closed
    duplicates: int = 0  # same record_id already counted in the window
    redelivered: int = 0  # a source position this key had already folded
    unmarked: int = 0  # calls a window could not keep past MAX_KEPT: no verdict if covered
    unjudged: int = 0  # callbacks a key could not hold past callback.MAX_HELD


class Covered(NamedTuple):
    """One call an incident covers: what a per-call verdict says of it."""

    detector: str
    alert_id: str
    severity: Severity
    key: str  # the incident's key
    ts: float
    record_id: str
    subscriber: str  # the callee as routed (E.164, or the raw text the family was given)
    caller: str
    answered: bool
    duration_s: float


class Family:
    """A windowed statistic: subclasses say how to aggregate, what crosses, how to explain."""

    detector: str = ""
    window_s: int = 300
    lateness_s: int = 0
    max_ids: int = 50
    # A statistic that is not monotone in the calls (a share) is judged on the whole window.
    decides_at_close: bool = False
    # Durable state lives in the changelog-backed table; a short-window heuristic touched by
    # nearly every call may keep it in worker memory instead (lost on restart, one window).
    durable: bool = True
    # Whether idle state still holds something learned (a baseline): if not, an idle key
    # is forgotten, so state tracks the keys active now, not every caller ever seen.
    learns: bool = False
    chains: bool = True
    # Keep each window's calls until it is known whether an incident covers them (the
    # per-call verdicts of streams/verdicts.py); off, a window holds counts only.
    marks: bool = True
    # Seconds after an incident's last window that a callback to its key is still flagged
    # (streams/detect/callback.py); 0: this family's incidents flag nothing.
    remember_s: int = 0

    @property
    def lag_windows(self) -> int:
        """Windows between a window and the last one its threshold may learn from."""
        return 1 + -(-self.lateness_s // self.window_s)

    def window_start(self, ts: float) -> int:
        return int(ts // self.window_s) * self.window_s

    def add(self, win: Window, item: Item) -> None:
        """Fold what the family needs beyond the count (the count and sample are done)."""

    def value(self, win: Window) -> float:
        return win.n

    def crossed(self, win: Window) -> bool:
        return win.thr is not None and self.value(win) >= win.thr

    def threshold(self, learned: Learned, ws: int) -> tuple[float, float | None]:
        raise NotImplementedError

    def judge(self, learned: Learned, ws: int, win: Window) -> None:
        """Give `win` its threshold and baseline from what the key had learned."""
        win.thr, win.base = self.threshold(learned, ws)

    def learn(self, learned: Learned, win: Window, ws: int) -> None:
        """Fold a closed window with calls into the key's baseline or running sums."""

    def decay(self, learned: Learned, windows: int) -> None:
        """Fold `windows` empty windows at once, in closed form (a key silent for a week
        costs what one window costs)."""

    def rate(self, key: str, win: Window) -> tuple[Severity, float]:
        ratio = self.value(win) / max(win.thr or 1, 1)
        severity: Severity = "critical" if ratio >= 4 else "high" if ratio >= 2 else "medium"
        return severity, round(min(0.99, 0.5 + 0.5 * (1 - 1 / max(ratio, 1))), 4)

    def explain(self, key: str, win: Window) -> str:
        raise NotImplementedError


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _snapshot(learned: Learned) -> Learned:
    """A copy without the hour-of-week profile, which `_view` rebuilds from the key's own."""
    return msgspec.structs.replace(
        learned, hod=list(learned.hod) if learned.hod is not None else None, how=None)


def _as_of(state: KeyState, best: int) -> Learned:
    """What the key had learned after window `best`: its snapshot, with the hour-of-week
    profile of now taken back, slot by slot, through the windows learned since."""
    view = _snapshot(state.snaps[best])
    how = state.learned.how
    if how is not None:
        how = list(how)
        for later in sorted((s for s in state.snaps if s > best), reverse=True):
            undo = state.snaps[later].undo
            if undo is not None:
                how[undo[0]] = undo[1]
        view.how = how
    return view


def _incident(fam: Family, key: str, first: int) -> str:
    """The id of the incident whose first window starts at `first`."""
    return alert_id(fam.detector, key, _dt(first))


def _alert(fam: Family, key: str, first: int, ws: int, win: Window, status: str,
           at: float, explanation: str | None = None) -> Alert:
    severity, score = fam.rate(key, win)
    return Alert(
        alert_id=_incident(fam, key, first),
        detector=fam.detector,
        severity=severity if status != "resolved" else "info",
        score=score if status != "resolved" else 0.0,
        status=status,  # type: ignore[arg-type]
        key=key,
        window_start=_dt(ws),
        window_end=_dt(ws + fam.window_s),
        detected_at=_dt(at),
        observed=fam.value(win),
        baseline=win.base,
        # a chained incident resolves on the first window it does not cover: none of its
        # calls; a one-window incident (spoofing) resolves on its own window: its sample
        record_ids=[] if status == "resolved" and fam.chains else [rid for _, rid in win.ids],
        explanation=explanation if explanation is not None else fam.explain(key, win),
    )


def _resolution(fam: Family, key: str, ws: int, win: Window) -> str:
    if not win.n:
        return f"{fam.detector} on {key}: no calls in the window from {_dt(ws).isoformat()}"
    return (
        f"{fam.detector} on {key} back below threshold ({fam.value(win):g} < {win.thr:g}) "
        f"in the window from {_dt(ws).isoformat()}"
    )


def first_open_slot(wm: float, fam: Family) -> int:
    """Start of the earliest window the watermark `wm` still allows calls into."""
    return (math.floor((wm - fam.lateness_s - fam.window_s) / fam.window_s) + 1) * fam.window_s


# What a family with a fixed threshold is judged with: nothing learned (read, never changed).
_FIXED = Learned()


def _view(fam: Family, state: KeyState, ws: int, wm: float) -> Learned | None:
    """What the key had learned after every window up to `lag_windows` before `ws`, or None
    while the watermark has not passed those windows yet (a lagging source may still add)."""
    if not fam.learns:
        return _FIXED  # a fixed threshold: known at once, whatever the watermark
    size = fam.window_s
    cut = ws - fam.lag_windows * size
    if cut + size + fam.lateness_s > wm:
        return None
    best = max((s for s in state.snaps if s <= cut), default=None)
    if best is None:
        return Learned()
    view = _as_of(state, best)
    fam.decay(view, (cut - best) // size)
    return view


def _cross(fam: Family, key: str, state: KeyState, ws: int, win: Window, at: float,
           out: list[Alert], cov: list[Covered]) -> None:
    win.fired = True
    alert = _alert(fam, key, ws, ws, win, "open", at)
    win.severity = alert.severity
    if not fam.chains:
        win.crossing = b""
        out.append(alert)
        _mark(fam, key, win, alert.alert_id, cov)
        return
    win.crossing = dump_alert(alert)
    if state.inc is not None and state.inc_last == ws - fam.window_s:
        # the slot before is final and in the open incident: this window continues it
        _mark(fam, key, win, _incident(fam, key, state.inc), cov)


def _mark(fam: Family, key: str, win: Window, incident: str, cov: list[Covered]) -> None:
    """An incident covers the window: a verdict for each call it kept, and from now on for
    each call as it is counted."""
    if not fam.marks or win.incident is not None:
        return
    win.incident = incident
    if win.severity is None:  # kept open by hysteresis, never crossed: its own figures
        win.severity = fam.rate(key, win)[0]
    severity: Any = win.severity
    cov.extend(Covered(fam.detector, incident, severity, key, *call) for call in win.kept)
    win.kept = []


def _keep(fam: Family, key: str, win: Window, item: Item, stats: FoldStats,
          cov: list[Covered]) -> None:
    """A call just counted: its verdict now if an incident covers its window, else kept."""
    if not fam.marks:
        return
    call = (item.ts, item.record_id, item.callee, item.caller, item.answered, item.duration_s)
    if win.incident is not None:
        severity: Any = win.severity
        cov.append(Covered(fam.detector, win.incident, severity, key, *call))
    elif len(win.kept) < MAX_KEPT:
        win.kept.append(call)
    else:
        stats.unmarked += 1


def _judge(fam: Family, key: str, state: KeyState, ws: int, win: Window, wm: float,
           at: float, out: list[Alert], cov: list[Covered], final: bool = False) -> None:
    """Give a window its threshold once it can be known, and mark it if it crossed."""
    if win.thr is None:
        view = _view(fam, state, ws, wm)
        if view is None:
            return
        fam.judge(view, ws, win)
    if (final or not fam.decides_at_close) and not win.fired and fam.crossed(win):
        _cross(fam, key, state, ws, win, at, out, cov)


def _sample(ids: list[tuple[float, str]], call: tuple[float, str], cap: int) -> None:
    """The `cap` earliest calls of the window (by time, then record_id): the same sample
    whatever order the calls arrived in."""
    if len(ids) >= cap and call >= ids[-1]:
        return
    at = bisect_left(ids, call)
    if at < len(ids) and ids[at] == call:
        return  # a duplicate past EXACT_CALLS, which only the sketch absorbed
    ids.insert(at, call)
    if len(ids) > cap:
        ids.pop()


def _counted(win: Window, record_id: str) -> bool:
    """Count a call in its window unless it was already counted there."""
    h = sketch.fingerprint(record_id)
    if win.hll is not None:
        sketch.add(win.hll, h)
        return True  # a duplicate leaves the sketch as it was; `_recount` reads it
    if h in win.seen:
        return False
    if len(win.seen) < EXACT_CALLS:
        win.seen.add(h)
        win.n += 1
        return True
    win.hll = sketch.empty()
    for old in (*win.seen, h):
        sketch.add(win.hll, old)
    win.seen = set()
    return True


def _recount(fam: Family, key: str, state: KeyState, sketched: dict[int, float],
             wm: float, learned_final: bool, out: list[Alert], cov: list[Covered]) -> None:
    """Read the count of each window whose sketch grew, and judge it as a call would be."""
    for ws, at in sketched.items():
        win = state.windows.get(ws)
        if win is None or win.hll is None:
            continue
        win.n = max(EXACT_CALLS + 1, sketch.estimate(win.hll))
        if not win.fired and learned_final:
            _judge(fam, key, state, ws, win, wm, at, out, cov)
    sketched.clear()


def fold(fam: Family, key: str, state: KeyState, items: list[Item], wm: float | None,
         stats: FoldStats, cov: list[Covered] | None = None) -> list[Alert]:
    """Count the calls of one key, then move its windows on to the watermark `wm` (the event
    time every source has reached; None: not known yet).

    Before each call, windows close up to the oldest call still to come in `items` (never
    past `wm`): a batch interleaves source partitions, and a call from a lagging one must
    still count; and a window's threshold is read only from windows closed by then, as the
    offline mode, which closes them call by call, reads it. `cov` receives the calls an
    incident now covers (the per-call verdicts).
    """
    out: list[Alert] = []
    cov = [] if cov is None else cov
    size = fam.window_s
    windows, hwm = state.windows, state.hwm
    lows = [0.0] * len(items)
    low = math.inf if wm is None else wm
    for i in range(len(items) - 1, -1, -1):
        low = min(low, items[i].ts)
        lows[i] = low
    final = wm is not None or not fam.learns  # no watermark: nothing learned is final yet
    sketched: dict[int, float] = {}  # windows counted by their sketch -> their last call
    for item, bound in zip(items, lows, strict=True):
        if item.pos >= 0:
            if item.pos <= hwm.get(item.src, -1):
                stats.redelivered += 1
                continue
            hwm[item.src] = item.pos
        if wm is not None and (state.closed is None
                               or first_open_slot(bound, fam) > state.closed):
            if sketched:
                _recount(fam, key, state, sketched, bound, final, out, cov)
            advance(fam, key, state, bound, out, cov)
        ws = int(item.ts // size) * size
        if item.tag == callback.TAG:  # an outbound call: it counts in no window
            callback.take(fam, key, state, item, stats, out)
            continue
        if state.closed is not None and ws < state.closed:
            stats.late += 1
            continue
        win = windows.get(ws)
        if win is None:
            win = windows[ws] = Window()
        if not _counted(win, item.record_id):
            stats.duplicates += 1
            continue
        _sample(win.ids, (item.ts, item.record_id), fam.max_ids)
        fam.add(win, item)
        _keep(fam, key, win, item, stats, cov)
        if state.last_ts is None or item.ts > state.last_ts:
            state.last_ts = item.ts
        if win.hll is not None:
            sketched[ws] = max(item.ts, sketched.get(ws, item.ts))
        elif not win.fired and final:
            _judge(fam, key, state, ws, win, bound, item.ts, out, cov)
    if sketched:
        _recount(fam, key, state, sketched, lows[-1], final, out, cov)
    if wm is not None:
        advance(fam, key, state, wm, out, cov)
    return out


def advance(fam: Family, key: str, state: KeyState, wm: float, out: list[Alert],
            cov: list[Covered] | None = None) -> None:
    """Close, in event-time order, every window the watermark has passed; resolve incidents
    whose next slot stayed silent; open the incident of the first open slot once final."""
    cov = [] if cov is None else cov
    first = first_open_slot(wm, fam)
    if state.closed is not None and state.closed > first:
        first = state.closed
    windows = state.windows
    if windows and min(windows) < first:
        for ws in sorted(w for w in windows if w < first):
            _resolve_quiet(fam, key, state, ws, out)
            _close(fam, key, state, ws, wm, out, cov)
    if state.inc is not None:
        _resolve_quiet(fam, key, state, first, out)
    state.closed = first
    for ws, win in windows.items():
        if win.thr is None:
            _judge(fam, key, state, ws, win, wm, wm, out, cov)
    win = state.windows.get(first)
    if fam.chains and state.inc is None and win is not None and win.fired:
        _open(fam, key, state, first, win, out, cov)
    if state.held or state.flags:
        callback.settle(fam, key, state, out)


def _open(fam: Family, key: str, state: KeyState, ws: int, win: Window, out: list[Alert],
          cov: list[Covered]) -> None:
    assert win.crossing
    alert = load_alert(win.crossing)
    out.append(alert)
    state.inc = ws
    callback.flag(fam, state, ws, ws + fam.window_s)
    win.crossing = b""  # emitted: an empty marker, not None
    _mark(fam, key, win, alert.alert_id, cov)


def _resolve_quiet(fam: Family, key: str, state: KeyState, before: int,
                   out: list[Alert]) -> None:
    """An incident whose next slot stayed silent resolves there, before any later window."""
    if state.inc is None or state.inc_last is None:
        return
    quiet = state.inc_last + fam.window_s
    if quiet < before and quiet not in state.windows:
        empty = Window(thr=1)
        out.append(_alert(fam, key, state.inc, quiet, empty, "resolved", quiet + fam.window_s,
                          _resolution(fam, key, quiet, empty)))
        state.inc = state.inc_last = None


def _close(fam: Family, key: str, state: KeyState, ws: int, wm: float,
           out: list[Alert], cov: list[Covered]) -> None:
    size = fam.window_s
    end = ws + size
    win = state.windows[ws]
    _judge(fam, key, state, ws, win, wm, end, out, cov, final=True)
    del state.windows[ws]
    if fam.learns:  # a fixed threshold learns nothing, and `_view` reads no snapshot of it
        learned = state.learned
        if learned.at is not None and ws > learned.at:
            fam.decay(learned, (ws - learned.at) // size)
        fam.learn(learned, win, ws)
        learned.at = end
        state.snaps[ws] = _snapshot(learned)
        for old in sorted(state.snaps)[:-(fam.lag_windows + 2)]:
            del state.snaps[old]
    if not fam.chains:
        if win.fired:
            out.append(_alert(fam, key, ws, ws, win, "resolved", end,
                              f"window closed: {fam.explain(key, win)}"))
        return
    if win.fired and state.inc is None:
        _open(fam, key, state, ws, win, out, cov)
    elif state.inc is not None and (win.fired or fam.value(win) >= (win.thr or 1) * HYSTERESIS):
        pass
    elif state.inc is not None:
        out.append(_alert(fam, key, state.inc, ws, win, "resolved", end,
                          _resolution(fam, key, ws, win)))
        state.inc = state.inc_last = None
        return
    else:
        return
    state.inc_last = ws
    callback.flag(fam, state, state.inc, end)
    incident = _incident(fam, key, state.inc)
    _mark(fam, key, win, incident, cov)
    after = state.windows.get(end)
    if after is not None and after.fired:  # crossed already: it continues the incident
        _mark(fam, key, after, incident, cov)
    if not (fam.decides_at_close and state.inc == ws):  # that open gave the final figures
        out.append(_alert(fam, key, state.inc, ws, win, "update", end))


def due(fam: Family, state: KeyState, ttl_s: float) -> float:
    """The watermark at which `advance` would next change this key (or forget it)."""
    size, late = fam.window_s, fam.lateness_s
    times = []
    if state.windows:
        times.append(min(state.windows) + size + late)
        for ws, win in state.windows.items():
            if win.thr is None:
                times.append(ws - (fam.lag_windows - 1) * size + late)
            elif fam.chains and state.inc is None and win.fired:
                times.append(ws + late)
    if state.inc is not None and state.inc_last is not None:
        times.append(state.inc_last + 2 * size + late)
    if state.held or state.flags:
        times.extend(callback.due(fam, state))
    if not times:
        return (state.last_ts or 0.0) + ttl_s if fam.learns else -math.inf
    return min(times)


def forgettable(fam: Family, state: KeyState, wm: float, ttl_s: float) -> bool:
    """Nothing left to close or resolve, and nothing learned worth keeping."""
    if state.windows or state.inc is not None or state.held or state.flags:
        return False
    return not fam.learns or (state.last_ts or 0.0) + ttl_s <= wm
