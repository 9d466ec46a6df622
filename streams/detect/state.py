"""Typed state of one keyed statistic: its open windows, what it learned, its incident.

msgspec Structs, so that a key's state crosses the changelog as compact MessagePack and is
read back into the same types after a restart or a rebalance.
"""

from __future__ import annotations

import msgspec


class Window(msgspec.Struct, kw_only=True):
    """One open event-time window of one key."""

    n: int = 0  # calls counted (each record_id once)
    # 64-bit fingerprints of the record_ids counted, to drop duplicates; past EXACT_CALLS a
    # sketch of them instead (streams/detect/sketch.py), so no window outgrows a message
    seen: set[int] = msgspec.field(default_factory=set)
    hll: bytearray | None = None
    ids: list[tuple[float, str]] = msgspec.field(default_factory=list)  # earliest calls
    thr: float | None = None  # None until what it is judged against is final
    base: float | None = None
    fired: bool = False  # crossed its threshold (monotone: stays crossed)
    crossing: bytes | None = None  # the open alert as it stood when the window crossed
    # what some families aggregate besides the count
    distinct: set[str] = msgspec.field(default_factory=set)
    short: int = 0
    note: tuple[str, float, str] | None = None
    sides: dict[str, int] = msgspec.field(default_factory=dict)
    trunks: list[str] = msgspec.field(default_factory=list)
    spans: list[tuple[float, float, int]] = msgspec.field(default_factory=list)  # start,end,cover
    peak: int = 0
    # what a burst window was judged with: the NB size, and the key's learned windows then
    size: float | None = None
    age: int | None = None
    # Per-call verdicts: the calls counted while it is not known yet whether an incident
    # covers the window, (ts, record_id, subscriber, caller, answered, duration_s); once it
    # is, the alert_id of that incident (its later calls get their verdict at once).
    kept: list[tuple[float, str, str, str, bool, float]] = msgspec.field(default_factory=list)
    incident: str | None = None
    severity: str | None = None  # of the window's open alert, once it crossed


class Learned(msgspec.Struct, kw_only=True):
    """What a key learned from its closed windows: baseline, warm-up, hour profile, CUSUM,
    and the moments of its over-dispersion (docs/count-model.md).

    Fields added later have defaults, so a state written by an older version still loads.
    """

    at: int | None = None  # end of the last window learned from
    base: float | None = None
    seen: int = 0
    hod: list[float | None] | None = None  # by local hour of day
    cusum: float = 0.0
    how: list[float | None] | None = None  # by local hour of the week (Monday 00h = 0)
    # The hour-of-week slot the last learned window changed, and its value before: a
    # snapshot holds this instead of its own copy of `how` (168 values).
    undo: tuple[int, float | None] | None = None
    windows: int = 0  # windows with calls learned from (the weight of the moments below)
    excess: float = 0.0  # EW mean of (residual^2 - mean): the variance beyond Poisson
    mean_sq: float = 0.0  # EW mean of the squared seasonal mean


class Flag(msgspec.Struct, array_like=True):
    """An incident of a flagging key, remembered for the callback guard (the key of
    `KeyState.flags` is its first window)."""

    end: int  # end of its last window known so far
    warned: set[int] = msgspec.field(default_factory=set)  # subscribers alerted (fingerprints)


class Callback(msgspec.Struct, array_like=True, order=True):
    """An outbound call to this key's number or range, until it can be judged."""

    ts: float
    record_id: str
    subscriber: str
    destination: str
    duration_s: float
    answered: bool
    severity: str
    score: float
    cost: str  # why the destination costs money, or ""


class KeyState(msgspec.Struct, kw_only=True):
    """Everything one (family, key) holds between batches."""

    windows: dict[int, Window] = msgspec.field(default_factory=dict)
    closed: int | None = None  # slots starting before this are final
    learned: Learned = msgspec.field(default_factory=Learned)
    snaps: dict[int, Learned] = msgspec.field(default_factory=dict)  # learned after window ws
    inc: int | None = None  # first window of the open incident
    inc_last: int | None = None  # last closed window that kept it open
    hwm: dict[int, int] = msgspec.field(default_factory=dict)  # source partition -> position
    last_ts: float | None = None  # latest call, event time
    flags: dict[int, Flag] = msgspec.field(default_factory=dict)  # incidents, by first window
    held: list[Callback] = msgspec.field(default_factory=list)  # callbacks, in time order


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(KeyState)


def dump_state(state: KeyState) -> bytes:
    return _ENCODER.encode(state)


def load_state(raw: bytes) -> KeyState:
    return _DECODER.decode(raw)
