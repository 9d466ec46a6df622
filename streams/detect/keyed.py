"""Every (family, key) state one process holds, and when each next needs the watermark.

The offline mode and the Faust worker both keep their keyed state here; only persistence
differs (the worker writes what `drain()` returns to its changelog). A key that receives no
more calls is still closed, resolved and finally forgotten: each key sits in a queue by the
watermark at which it next changes, per keyed partition, so a watermark step costs the keys
it concerns, not every key held.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator

from streams.detect.state import KeyState
from streams.detect.windowed import (
    Family,
    FoldStats,
    Item,
    advance,
    due,
    first_open_slot,
    fold,
    forgettable,
)
from streams.events import Alert

FK = tuple[str, str]  # (family, key)


class KeyedStates:
    """States by (family, key), each on one keyed partition, with their due watermarks."""

    def __init__(self, families: dict[str, Family], ttl_s: float) -> None:
        self.families = families
        self.ttl_s = ttl_s
        self.states: dict[FK, KeyState] = {}
        self.partition: dict[FK, int] = {}
        self._due: dict[FK, float] = {}
        self._queues: dict[int, list[tuple[float, str, str]]] = {}
        self.stats: dict[str, FoldStats] = {name: FoldStats() for name in families}
        self.open: dict[FK, None] = {}  # keys with an open incident
        self._dirty: dict[FK, None] = {}
        self._forgotten: dict[FK, int] = {}  # forgotten key -> its partition
        self._swept: dict[int, float] = {}  # partition -> watermark its keys were swept to

    def fold(self, family: str, key: str, items: list[Item], wm: float | None,
             partition: int = 0) -> list[Alert]:
        fk = (family, key)
        state = self.states.get(fk)
        if state is None:
            state = self.states[fk] = KeyState()
            swept = self._swept.get(partition)
            if swept is not None:  # closed as far as its partition's other keys: a call
                # read again after its key was forgotten is late, not counted a second time
                state.closed = first_open_slot(swept, self.families[family])
            self.partition[fk] = partition
            self._forgotten.pop(fk, None)
        out = fold(self.families[family], key, state, items, wm, self.stats[family])
        self._settled(fk, state, wm)
        return out

    def sweep(self, partition: int, wm: float) -> list[Alert]:
        """Advance every key of `partition` whose next change the watermark has reached."""
        queue = self._queues.get(partition)
        self._swept[partition] = max(wm, self._swept.get(partition, wm))
        out: list[Alert] = []
        while queue and queue[0][0] <= wm:
            at, family, key = heapq.heappop(queue)
            fk = (family, key)
            if self._due.get(fk) != at:
                continue  # superseded by a later schedule, or forgotten
            del self._due[fk]
            state = self.states[fk]
            advance(self.families[family], key, state, wm, out)
            self._settled(fk, state, wm)
        return out

    def _settled(self, fk: FK, state: KeyState, wm: float | None) -> None:
        fam = self.families[fk[0]]
        if state.inc is not None:
            self.open[fk] = None
        else:
            self.open.pop(fk, None)
        if wm is not None and forgettable(fam, state, wm, self.ttl_s):
            self.forget(fk)
            return
        self._dirty[fk] = None
        at = due(fam, state, self.ttl_s)
        if self._due.get(fk) != at:
            self._due[fk] = at
            heapq.heappush(self._queues.setdefault(self.partition[fk], []), (at, *fk))

    def forget(self, fk: FK) -> None:
        self.states.pop(fk, None)
        partition = self.partition.pop(fk, 0)
        self._due.pop(fk, None)
        self.open.pop(fk, None)
        self._dirty.pop(fk, None)
        self._forgotten[fk] = partition

    def adopt(self, fk: FK, state: KeyState, partition: int) -> None:
        """Take over a key's state restored from a changelog (restart, rebalance)."""
        self.states[fk] = state
        self.partition[fk] = partition
        self._settled(fk, state, None)
        self._dirty.pop(fk, None)

    def release(self, partitions: set[int]) -> None:
        """Let go of the keys of partitions this process no longer owns."""
        for fk in [fk for fk, p in self.partition.items() if p in partitions]:
            self.forget(fk)
            self._forgotten.pop(fk, None)
        for p in partitions:
            self._queues.pop(p, None)
            self._swept.pop(p, None)

    def rewrite(self, fk: FK, partition: int) -> None:
        """Drain the key again (its write failed): its current state, or its tombstone."""
        if fk in self.states:
            self._dirty[fk] = None
        else:
            self._forgotten[fk] = partition

    def drain(self) -> Iterator[tuple[FK, KeyState | None, int]]:
        """Keys changed since the last drain: (key, state, partition); state None once the
        key is forgotten."""
        dirty, gone = self._dirty, self._forgotten
        self._dirty, self._forgotten = {}, {}
        for fk in dirty:
            yield fk, self.states[fk], self.partition[fk]
        for fk, partition in gone.items():
            yield fk, None, partition

    def open_incidents(self) -> Counter[str]:
        return Counter(family for family, _ in self.open)

    def end(self) -> list[Alert]:
        """The input is complete: close every window and resolve every incident."""
        out: list[Alert] = []
        for p in list(self._queues):
            out.extend(self.sweep(p, end_of_data(self.families, self.last_ts())))
        return out

    def last_ts(self) -> float:
        return max((s.last_ts for s in self.states.values() if s.last_ts is not None),
                   default=0.0)


def horizon_s(families: dict[str, Family]) -> int:
    """Event time after a call by which every window it touches, and the slot after it, is
    closed: what a source adds to its last call's time when it has delivered everything."""
    return max((2 * f.window_s + f.lateness_s for f in families.values()), default=0)


def end_of_data(families: dict[str, Family], last_ts: float) -> float:
    return last_ts + horizon_s(families)
