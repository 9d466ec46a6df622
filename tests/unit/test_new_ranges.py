"""The rare and the new: a never-seen range is judged against what new ranges bring, and a
state written before the learned model existed still loads."""

from __future__ import annotations

import msgspec

from streams.detect.engine import Engine, run_offline
from streams.detect.state import KeyState, dump_state, load_state
from streams.detect.windowed import FoldStats, fold
from tests.unit.factories import cdr, policy

P = policy()


def new_range(calls: int, callees: int) -> list:
    """`calls` calls in 5 minutes from a range never seen, to `callees` subscribers."""
    return [cdr(i * 300 / calls, calling_number=f"+2348031{i:05d}",
                called_number=f"3{i % callees:09d}") for i in range(calls)]


def opened(calls: list) -> list:
    return [a for a in run_offline(calls, P).alerts
            if a.detector == "burst_range" and a.status == "open"]


def test_fifteen_calls_to_fifteen_subscribers_from_a_new_range_are_flagged() -> None:
    alerts = opened(new_range(15, 15))
    assert [a.key for a in alerts] == ["+23480310"]
    assert "range never seen; new ranges bring 0.5 calls per 5 min here" in alerts[0].explanation


def test_three_calls_from_a_new_range_are_not() -> None:
    assert opened(new_range(3, 3)) == []


def test_fifteen_calls_to_two_subscribers_are_not_a_range_burst() -> None:
    """Below the floor of distinct subscribers: that is one bombarded subscriber's story."""
    assert opened(new_range(15, 2)) == []


# The state structs as they were before the learned count model (commit 8c67d5f).
class OldWindow(msgspec.Struct, kw_only=True):
    n: int = 0
    seen: set[int] = msgspec.field(default_factory=set)
    hll: bytearray | None = None
    ids: list[tuple[float, str]] = msgspec.field(default_factory=list)
    thr: float | None = None
    base: float | None = None
    fired: bool = False
    crossing: bytes | None = None
    distinct: set[str] = msgspec.field(default_factory=set)
    short: int = 0
    note: tuple[str, float, str] | None = None
    sides: dict[str, int] = msgspec.field(default_factory=dict)
    trunks: list[str] = msgspec.field(default_factory=list)
    spans: list[tuple[float, float, int]] = msgspec.field(default_factory=list)
    peak: int = 0


class OldLearned(msgspec.Struct, kw_only=True):
    at: int | None = None
    base: float | None = None
    seen: int = 0
    hod: list[float | None] | None = None
    cusum: float = 0.0


class OldKeyState(msgspec.Struct, kw_only=True):
    windows: dict[int, OldWindow] = msgspec.field(default_factory=dict)
    closed: int | None = None
    learned: OldLearned = msgspec.field(default_factory=OldLearned)
    snaps: dict[int, OldLearned] = msgspec.field(default_factory=dict)
    inc: int | None = None
    inc_last: int | None = None
    hwm: dict[int, int] = msgspec.field(default_factory=dict)
    last_ts: float | None = None


def test_a_state_written_by_the_previous_structs_loads_and_folds_on() -> None:
    t0 = cdr(0).start_time.timestamp()
    ws = int(t0 // 300) * 300
    hod: list[float | None] = [None] * 24
    hod[10] = 40.0
    old = OldKeyState(
        windows={ws: OldWindow(n=3, seen={1, 2, 3}, thr=20.0, base=40.0)}, closed=ws,
        learned=OldLearned(at=ws, base=40.0, seen=500, hod=hod),
        snaps={ws - 300: OldLearned(at=ws, base=40.0, seen=500, hod=hod)},
        hwm={0: 7}, last_ts=t0)
    state = load_state(msgspec.msgpack.encode(old))
    assert isinstance(state, KeyState)
    assert state.learned.base == 40.0 and state.learned.how is None
    assert state.learned.windows == 0 and state.windows[ws].size is None
    engine = Engine(P)
    fam = engine.families["burst_range"]
    items = [item for c in new_range(3, 3)
             for name, _, item in engine.route(c).routed if name == "burst_range"]
    assert items
    fold(fam, "+23480310", state, items, t0 + 3600, FoldStats())
    assert load_state(dump_state(state)).learned.windows > 0


def test_a_new_country_without_warm_up_says_what_new_countries_bring() -> None:
    calls = new_range(15, 15)
    alerts = [a for a in run_offline(calls, policy(bursts={"country_warmup_windows": 0})).alerts
              if a.detector == "burst_country" and a.status == "open"]
    assert [a.key for a in alerts] == ["+234"]
    assert "country never seen; new countries bring 0.5 calls per 5 min" in alerts[0].explanation
