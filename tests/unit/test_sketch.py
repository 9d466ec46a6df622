"""A window past EXACT_CALLS: counted by a sketch, bounded in bytes, still order-free."""

from __future__ import annotations

import random

import pytest

from streams.agents.routing import MAX_BYTES
from streams.detect import sketch
from streams.detect.engine import Engine
from streams.detect.state import KeyState, dump_state
from streams.detect.windowed import EXACT_CALLS, FoldStats, Item, advance, fold
from tests.unit.factories import policy

# 4 standard errors of a 2^14-register HyperLogLog (1.04 / sqrt(m))
TOLERANCE = 4 * 1.04 / sketch.M ** 0.5


@pytest.mark.parametrize("n", [5_000, 30_000, 120_000])
def test_the_sketch_counts_distinct_ids_within_its_error_and_ignores_repeats(n: int) -> None:
    ids = [f"cdr-{n}-{i}" for i in range(n)]
    once = sketch.empty()
    for rid in ids:
        sketch.add(once, sketch.fingerprint(rid))
    twice = sketch.empty()
    for rid in reversed(ids + ids[: n // 3]):
        sketch.add(twice, sketch.fingerprint(rid))
    assert once == twice
    assert abs(sketch.estimate(once) - n) <= TOLERANCE * n


def _campaign(n: int, ws: float) -> list[Item]:
    rng = random.Random(n)
    return [Item(ts=ws + rng.uniform(0, 299), record_id=f"burst-{i:07d}",
                 caller=f"+6391755{i % 1000:04d}", callee=f"+39{rng.randrange(10**9):09d}",
                 duration_s=30.0, answered=True) for i in range(n)]


def _run(items: list[Item], batch: int, ws: float) -> tuple[list, KeyState, int]:
    fam = Engine(policy()).families["burst_range"]
    state, stats, alerts, largest = KeyState(), FoldStats(), [], 0
    for i in range(0, len(items), batch):
        alerts += fold(fam, "+6391755", state, items[i:i + batch], ws, stats)
        largest = max(largest, len(dump_state(state)))  # what one changelog write carries
    window = state.windows[int(ws)]
    advance(fam, "+6391755", state, ws + 3600, alerts)
    return alerts, window, largest


def test_a_campaign_window_past_the_exact_bound_stays_small_and_counts_like_any_order() -> None:
    """20,000 calls of one range in one window: the window once kept every record_id (an
    unbounded state, 2.2 MB for a hot country key, above a message's limit). Sent sorted
    in batches of 100, or shuffled with 5,000 upstream duplicates in batches of 37, it
    gives the same count and alerts, and no write of its state exceeds what a keyed message
    may carry (until an incident is known to cover it, a window keeps up to MAX_KEPT calls
    for their verdicts)."""
    ws = 1_800_000_000.0 // 300 * 300
    calls = _campaign(20_000, ws)
    shuffled = calls + random.Random(5).sample(calls, 5_000)
    random.Random(6).shuffle(shuffled)
    sorted_alerts, sorted_win, sorted_size = _run(sorted(calls), 100, ws)
    mixed_alerts, mixed_win, mixed_size = _run(shuffled, 37, ws)
    assert sorted_win.hll is not None and sorted_win.hll == mixed_win.hll
    assert sorted_win.n == mixed_win.n > EXACT_CALLS
    assert abs(sorted_win.n - 20_000) <= TOLERANCE * 20_000
    assert max(sorted_size, mixed_size) < MAX_BYTES
    final = lambda alerts: [a for a in alerts if a.status != "open"]  # noqa: E731
    assert final(sorted_alerts) == final(mixed_alerts)
    update = next(a for a in final(sorted_alerts) if a.status == "update")
    assert update.observed == sorted_win.n and len(set(update.record_ids)) == 50
