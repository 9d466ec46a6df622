"""Event time across partitions: how far each events partition has come, and the watermark
a keyed partition may close windows at.

Pure bookkeeping, no Kafka: the ingest agent feeds `SourceMarks` and ships its marks with
every keyed message; the keyed agent merges them in a `Watermark` per keyed partition.
Marks are per events partition, not per process, so a rebalance that moves a partition to
another worker keeps its event time: its new reader continues the same mark (only the claim
that the partition is idle is its reader's own, and ends with its group generation).
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

    def copy(self) -> SourceMarks:
        return SourceMarks(self.idle_s, dict(self.times), dict(self.heard))

    def absorb(self, other: SourceMarks) -> None:
        """Take what a copy learned, keeping what was noted here meanwhile."""
        for p, ts in other.times.items():
            self.times[p] = max(ts, self.times.get(p, ts))
        for p, heard in other.heard.items():
            self.heard[p] = max(heard, self.heard.get(p, heard))

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

    "Idle" is a reader's claim about what is still to come, so it holds only for the
    consumer-group generation that made it: after a rebalance a partition's new reader may
    have a backlog, and an idle mark its old reader sent (even one read late, behind the new
    generation's messages) holds the watermark back until the new generation reports.
    """

    sources: int = 0
    marks: dict[int, Mark] = field(default_factory=dict)
    value: float | None = None
    generation: int = -1  # the newest consumer-group generation heard from
    generations: dict[int, int] = field(default_factory=dict)  # partition -> its mark's

    def update(self, marks: dict[int, Mark], sources: int, generation: int = 0) -> float | None:
        self.sources = max(self.sources, sources)
        self.generation = max(self.generation, generation)
        for p, (ts, idle) in marks.items():
            old, old_idle = self.marks.get(p, (None, False))
            if old is not None and (ts is None or ts < old):
                ts = old
            if generation < self.generations.get(p, -1):
                idle = old_idle  # a newer reader has reported: its word stands
            else:
                self.generations[p] = generation
            self.marks[p] = (ts, idle)
        if any(p not in self.marks for p in range(self.sources)):
            return self.value
        current = self.generation
        active = [ts for p, (ts, idle) in self.marks.items()
                  if not idle or self.generations[p] < current]
        if not active:  # all read to their end: each delivered everything up to its mark
            active = [ts for ts, _ in self.marks.values() if ts is not None]
        if not active or any(ts is None for ts in active):
            return self.value
        low = min(ts for ts in active if ts is not None)
        if self.value is None or low > self.value:
            self.value = low
        return self.value
