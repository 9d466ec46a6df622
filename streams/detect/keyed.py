"""Every (family, key) state one process holds, and when each next needs the watermark.

The offline mode and the Faust worker both keep their keyed state here; only persistence
differs (the worker writes what `drain()` returns to its changelog). A key that receives no
more calls is still closed, resolved and finally forgotten: each key sits in a queue by the
watermark at which it next changes, per keyed partition, so a watermark step costs the keys
it concerns, not every key held. Only the keys used most recently are held as objects; the
others wait as their MessagePack bytes (with bookkeeping, a third of the memory a key held
as objects takes).
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator

from streams.detect.state import KeyState, dump_state, load_state
from streams.detect.windowed import (
    Covered,
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
# States held as objects, most recently used; the rest are held packed.
LIVE_STATES = 20_000


class KeyedStates:
    """States by (family, key), each on one keyed partition, with their due watermarks."""

    def __init__(self, families: dict[str, Family], ttl_s: float,
                 live: int = LIVE_STATES, seeds: dict[FK, bytes] | None = None) -> None:
        self.families = families
        # Learned states a key starts from when it first calls holding nothing of its own
        # (a warm start, streams/detect/baseline.py); each is taken once.
        self.seeds = dict(seeds or {})
        self.ttl_s = ttl_s
        self.live = live
        self._live: dict[FK, KeyState] = {}  # in order of use, the latest last
        self._packed: dict[FK, bytes] = {}
        self.held: Counter[str] = Counter()  # family -> keys held
        self._latest = 0.0  # latest call of any key, event time
        self.partition: dict[FK, int] = {}
        self._due: dict[FK, float] = {}
        self._queues: dict[int, list[tuple[float, str, str]]] = {}
        self.stats: dict[str, FoldStats] = {name: FoldStats() for name in families}
        self.open: dict[FK, None] = {}  # keys with an open incident
        self._dirty: dict[FK, None] = {}
        self._forgotten: dict[FK, int] = {}  # forgotten key -> its partition
        self._swept: dict[int, float] = {}  # partition -> watermark its keys were swept to
        self.revision = 0  # bumped by every change to a durable key
        self.covered: list[Covered] = []  # calls incidents now cover, until taken

    def take_covered(self) -> list[Covered]:
        """The calls incidents came to cover since the last call (their verdicts)."""
        out, self.covered = self.covered, []
        return out

    def fold(self, family: str, key: str, items: list[Item], wm: float | None,
             partition: int = 0) -> list[Alert]:
        fk = (family, key)
        state = self.get(fk)
        if state is None:
            seed = self.seeds.pop(fk, None)
            state = self._live[fk] = KeyState() if seed is None else load_state(seed)
            self.held[family] += 1
            swept = self._swept.get(partition)
            if swept is not None:  # closed as far as its partition's other keys: a call
                # read again after its key was forgotten is late, not counted a second time
                state.closed = first_open_slot(swept, self.families[family])
            self.partition[fk] = partition
            self._forgotten.pop(fk, None)
        out = fold(self.families[family], key, state, items, wm, self.stats[family],
                   self.covered)
        self._latest = max(self._latest, _latest(state))
        self._settled(fk, state, wm)
        self._pack_idle()
        return out

    def get(self, fk: FK) -> KeyState | None:
        """The key's state, as an object (and now the most recently used one)."""
        state = self._live.pop(fk, None)
        if state is None:
            raw = self._packed.pop(fk, None)
            if raw is None:
                return None
            state = load_state(raw)
        self._live[fk] = state
        return state

    def states(self) -> Iterator[tuple[FK, KeyState]]:
        """Every key held and its state, without changing which are held as objects."""
        yield from self._live.items()
        for fk, raw in self._packed.items():
            yield fk, load_state(raw)

    def __contains__(self, fk: object) -> bool:
        return fk in self._live or fk in self._packed

    def __iter__(self) -> Iterator[FK]:
        yield from self._live
        yield from self._packed

    def __len__(self) -> int:
        return len(self._live) + len(self._packed)

    def _pack_idle(self) -> None:
        while len(self._live) > self.live:
            fk = next(iter(self._live))
            self._packed[fk] = dump_state(self._live.pop(fk))

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
            state = self.get(fk)
            assert state is not None
            advance(self.families[family], key, state, wm, out, self.covered)
            self._settled(fk, state, wm)
        self._pack_idle()
        return out

    def _settled(self, fk: FK, state: KeyState, wm: float | None,
                 changed: bool = True) -> None:
        """File the key by its next due watermark; `changed`: it is to be written."""
        fam = self.families[fk[0]]
        if state.inc is not None:
            self.open[fk] = None
        else:
            self.open.pop(fk, None)
        if wm is not None and forgettable(fam, state, wm, self.ttl_s):
            self.forget(fk)
            return
        if changed:
            self._dirty[fk] = None
            self.revision += fam.durable
        at = due(fam, state, self.ttl_s)
        if self._due.get(fk) != at:
            self._due[fk] = at
            heapq.heappush(self._queues.setdefault(self.partition[fk], []), (at, *fk))

    def forget(self, fk: FK) -> None:
        if self._live.pop(fk, None) is not None or self._packed.pop(fk, None) is not None:
            self.held[fk[0]] -= 1
            self.revision += self.families[fk[0]].durable
        partition = self.partition.pop(fk, 0)
        self._due.pop(fk, None)
        self.open.pop(fk, None)
        self._dirty.pop(fk, None)
        if self.families[fk[0]].durable:  # its changelog copy needs a tombstone
            self._forgotten[fk] = partition

    def restorable(self, fk: FK) -> bool:
        """May a restored copy of this key be adopted? Not while it is held, nor once it
        was forgotten here: until its tombstone is written, the changelog table still holds
        an older state of it, and a late call adopting that copy resolved an incident a
        second time with the old figures."""
        return fk not in self and fk not in self._forgotten

    def adopt(self, fk: FK, raw: bytes, partition: int) -> None:
        """Take over a key's state restored from a changelog (restart, rebalance); it is
        held as the bytes read, not as a copy of them."""
        state = load_state(raw)
        if fk not in self:
            self.held[fk[0]] += 1
        self._live.pop(fk, None)
        self._packed[fk] = raw
        self.partition[fk] = partition
        self._latest = max(self._latest, _latest(state))
        self._settled(fk, state, None, changed=False)  # the changelog has it already

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
        if fk in self:
            self._dirty[fk] = None
        else:
            self._forgotten[fk] = partition

    def drain(self, only: Iterable[FK] | None = None) -> list[tuple[FK, bytes | None, int]]:
        """Durable keys changed since the last drain (or those of `only` among them):
        (key, state as MessagePack, partition); None once the key is forgotten."""
        if only is None:
            dirty, gone = self._dirty, self._forgotten
            self._dirty, self._forgotten = {}, {}
        else:
            keys = set(only)
            dirty = {fk: self._dirty.pop(fk) for fk in keys if fk in self._dirty}
            gone = {fk: self._forgotten.pop(fk) for fk in keys if fk in self._forgotten}
        out: list[tuple[FK, bytes | None, int]] = []
        for fk in dirty:
            if self.families[fk[0]].durable:
                state = self._live.get(fk)
                value = self._packed[fk] if state is None else dump_state(state)
                out.append((fk, value, self.partition[fk]))
        out.extend((fk, None, p) for fk, p in gone.items() if self.families[fk[0]].durable)
        return out

    def open_incidents(self) -> Counter[str]:
        return Counter(family for family, _ in self.open)

    def end(self) -> list[Alert]:
        """The input is complete: close every window and resolve every incident."""
        out: list[Alert] = []
        for p in list(self._queues):
            out.extend(self.sweep(p, end_of_data(self.families, self.last_ts())))
        return out

    def last_ts(self) -> float:
        """The latest call any key held or folded, event time."""
        return self._latest


def _latest(state: KeyState) -> float:
    """The latest call a key holds, a callback waiting to be judged included."""
    last = state.last_ts or 0.0
    return max(last, state.held[-1].ts) if state.held else last


def horizon_s(families: dict[str, Family]) -> int:
    """Event time after a call by which every window it touches, and the slot after it, is
    closed: what a source adds to its last call's time when it has delivered everything."""
    return max((2 * f.window_s + f.lateness_s for f in families.values()), default=0)


def end_of_data(families: dict[str, Family], last_ts: float) -> float:
    return last_ts + horizon_s(families)
