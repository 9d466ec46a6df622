"""Event time across partitions: how far each events partition has come, and the watermark
a keyed partition may close windows at.

Pure bookkeeping, no Kafka: the ingest agent feeds `SourceMarks` and ships its marks with
every keyed message; the keyed agent merges them in a `Watermark` per keyed partition.
Marks are per events partition, not per process, so a rebalance that moves a partition to
another worker changes nothing: its new reader continues the same mark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# (latest event time read or declared on the partition, or None; idle)
Mark = tuple[float | None, bool]


@dataclass
class SourceMarks:
    """One ingest's view of the events partitions it reads.

    A partition is idle once it is read up to its end (`caught_up`) and has been silent for
    `idle_s` of wall-clock time: it then stops holding the watermark back. It never pushes
    it forward: only event time read from a partition, or a watermark message declaring
    that everything before T was delivered, moves a mark.
    """

    idle_s: float
    times: dict[int, float] = field(default_factory=dict)
    heard: dict[int, float] = field(default_factory=dict)  # monotonic time of last message

    def saw(self, partition: int, ts: float, now: float) -> None:
        if ts > self.times.get(partition, float("-inf")):
            self.times[partition] = ts
        self.heard[partition] = now

    def heard_from(self, partition: int, now: float) -> None:
        self.heard[partition] = now

    def marks(self, assigned: set[int], caught_up: set[int], now: float) -> dict[int, Mark]:
        for p in assigned:
            self.heard.setdefault(p, now)  # silence counts from the assignment
        return {p: (self.times.get(p), p in caught_up and now - self.heard[p] >= self.idle_s)
                for p in sorted(assigned)}


@dataclass
class Watermark:
    """One keyed partition's watermark: the slowest events partition that is not idle.

    Unknown until every events partition (0 .. sources-1) has been reported; held while a
    partition that is not idle has no event time yet; never moves back. When every partition
    is idle (a pause between file drops), it is the slowest mark: an idle partition stops
    holding the watermark back, it never pushes it past what another has delivered.
    """

    sources: int = 0
    marks: dict[int, Mark] = field(default_factory=dict)
    value: float | None = None

    def update(self, marks: dict[int, Mark], sources: int) -> float | None:
        self.sources = max(self.sources, sources)
        for p, (ts, idle) in marks.items():
            old = self.marks.get(p, (None, False))[0]
            if old is not None and (ts is None or ts < old):
                ts = old
            self.marks[p] = (ts, idle)
        if any(p not in self.marks for p in range(self.sources)):
            return self.value
        active = [ts for ts, idle in self.marks.values() if not idle]
        if not active:  # all read to their end: each delivered everything up to its mark
            active = [ts for ts, _ in self.marks.values() if ts is not None]
        if not active or any(ts is None for ts in active):
            return self.value
        low = min(ts for ts in active if ts is not None)
        if self.value is None or low > self.value:
            self.value = low
        return self.value
