"""The callback guard: a subscriber who calls a number or range an incident flagged.

Wangiri and "00" campaigns earn when the victim calls the foreign number back (revenue
share). An outbound call to a foreign destination goes, as a callback item, to the keys of
the flagging families its destination maps to; those key states know their incidents and
remember each (first window, last window end) for `window_h` after it ends. A callback is
held until the window of its time has closed on that key (every incident that could cover
it is then open or remembered, whatever order the calls came in), then judged against the
spans [first window, last end + window_h) and dropped: the outcome is a function of the
calls, not of their arrival, and the worker and `cdrwatch detect` run this same code.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from streams.detect import sketch
from streams.detect.state import Callback, Flag, KeyState
from streams.events import Alert, IncidentRef, alert_id
from streams.numbering import Number
from streams.policy import CallbackProfile

if TYPE_CHECKING:
    from streams.detect.windowed import Family, FoldStats, Item

DETECTOR = "callback_risk"
TAG = "callback"  # Item.tag of a callback item; its note is (severity, score, cost)
# Callbacks one key holds until judged (normal traffic to a popular range included); past
# it a callback is dropped and counted (FoldStats.unjudged).
MAX_HELD = 1024
# Incidents one key remembers; past it the oldest ended one is forgotten.
MAX_FLAGS = 8
# Subscribers remembered as alerted per incident; past it a subscriber calling back again
# repeats its alert (the same alert_id, for a consumer to drop).
MAX_WARNED = 4096
_COST_TYPES = {"premium_rate": "premium rate", "shared_cost": "shared cost"}


def cost_of(dest: Number, profile: CallbackProfile) -> str:
    """Why a call to `dest` costs money, or "": its number type, then the prefixes."""
    kind = _COST_TYPES.get(dest.kind)
    if kind is not None:
        return f"a {kind} number"
    e164 = dest.e164 or ""
    prefix = next((p for p in profile.high_cost_prefixes if e164.startswith(p)), None)
    return f"in the high-cost range {prefix}" if prefix is not None else ""


def rating(cost: str, profile: CallbackProfile) -> tuple[str, float]:
    return (profile.high_cost_severity, 0.9) if cost else (profile.severity, 0.7)


def flag(fam: Family, state: KeyState, first: int, end: int) -> None:
    """The incident starting at `first` now reaches `end`: its span grows, never shrinks."""
    if not fam.remember_s:
        return
    known = state.flags.get(first)
    if known is None:
        state.flags[first] = Flag(end)
        if len(state.flags) > MAX_FLAGS:
            del state.flags[min(f for f in state.flags if f != state.inc)]
    elif end > known.end:
        known.end = end


def take(fam: Family, key: str, state: KeyState, item: Item, stats: FoldStats,
         out: list[Alert]) -> None:
    """A callback item: judged now if the window of its time is closed, else held."""
    severity, score, cost = item.note
    cb = Callback(item.ts, item.record_id, item.caller, item.callee, item.duration_s,
                  item.answered, severity, float(score), cost)
    if state.closed is not None and fam.window_start(cb.ts) < state.closed:
        _judge(fam, key, state, cb, out)
        return
    held = state.held
    at = bisect_left(held, cb)
    if at < len(held) and held[at] == cb:
        return  # an upstream resend
    if len(held) < MAX_HELD:
        held.insert(at, cb)
    else:
        stats.unjudged += 1


def settle(fam: Family, key: str, state: KeyState, out: list[Alert]) -> None:
    """After the watermark moved: judge the callbacks whose window closed (in time order),
    forget incidents no callback on time can fall in any more."""
    closed = state.closed
    if closed is None:
        return
    held = state.held
    n = 0
    while n < len(held) and fam.window_start(held[n].ts) < closed:
        _judge(fam, key, state, held[n], out)
        n += 1
    if n:
        del held[:n]
    for first in [f for f, flag in state.flags.items()
                  if f != state.inc and flag.end + fam.remember_s <= closed]:
        del state.flags[first]


def due(fam: Family, state: KeyState) -> list[float]:
    """Watermarks at which `settle` has something to do."""
    late = fam.window_s + fam.lateness_s
    times = [fam.window_start(state.held[0].ts) + late] if state.held else []
    times.extend(flag.end + fam.remember_s + late for f, flag in state.flags.items()
                 if f != state.inc)
    return times


def _judge(fam: Family, key: str, state: KeyState, cb: Callback, out: list[Alert]) -> None:
    """The latest incident whose span holds the call, once per subscriber."""
    first = max((f for f, flag in state.flags.items()
                 if f <= cb.ts < flag.end + fam.remember_s), default=None)
    if first is None:
        return
    warned = state.flags[first].warned
    h = sketch.fingerprint(cb.subscriber)
    if h in warned:
        return
    if len(warned) < MAX_WARNED:
        warned.add(h)
    out.append(_alert(fam, key, first, cb))


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def _alert(fam: Family, key: str, first: int, cb: Callback) -> Alert:
    incident = alert_id(fam.detector, key, _dt(first))
    when = _dt(cb.ts)
    talk = f"talked {cb.duration_s:g} s" if cb.answered else "not answered"
    cost = f"; the destination is {cb.cost}" if cb.cost else ""
    hours = fam.remember_s / 3600
    return Alert(
        alert_id=alert_id(DETECTOR, f"{cb.subscriber}|{incident}", _dt(first)),
        detector=DETECTOR,
        severity=cb.severity,  # type: ignore[arg-type]
        score=cb.score,
        status="open",
        key=cb.subscriber,
        window_start=when,
        window_end=_dt(cb.ts + cb.duration_s),
        detected_at=when,
        observed=cb.duration_s,
        record_ids=[cb.record_id],
        explanation=(
            f"{cb.subscriber} called {cb.destination} at {when.isoformat()} ({talk}), in "
            f"{key} that {fam.detector} incident {incident} flagged from "
            f"{_dt(first).isoformat()} (callbacks watched for {hours:g} h after it ends)"
            f"{cost}"),
        incident=IncidentRef(alert_id=incident, detector=fam.detector, key=key),
    )
