"""The stream core's promises in the pure core: order independence, each call counted once,
late records counted, closed-form decay, bounded state."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect.campaigns import _shrink
from streams.detect.countmodel import nb_threshold
from streams.detect.engine import Engine, run_offline
from streams.detect.keyed import KeyedStates
from streams.detect.state import Learned
from tests.unit.factories import T0, cdr, policy

P = policy()
LATENESS = P.bursts.allowed_lateness_s


def traffic(seed: int) -> list:
    """Background from many ranges, a Philippine burst, a spoofed hotline, a fan-out."""
    rng = random.Random(seed)
    calls = [cdr(rng.uniform(0, 5400), calling_number=f"+4479{rng.randrange(10**8):08d}",
                 called_number=f"3{rng.randrange(10**9):09d}") for _ in range(300)]
    start = rng.uniform(600, 2400)
    calls += [cdr(start + i * rng.uniform(1, 6), calling_number=f"0063917551{i % 50:04d}",
                  called_number=f"3{rng.randrange(10**9):09d}") for i in range(150)]
    calls += [cdr(rng.uniform(0, 5400), calling_number="4010086",
                  called_number=f"3{rng.randrange(10**9):09d}") for _ in range(20)]
    calls += [cdr(3000 + i * 7, calling_number="00447911123456", called_number=f"3{i:09d}")
              for i in range(40)]
    return sorted(calls, key=lambda e: e.start_time)


def settled(alerts: list) -> list[tuple]:
    """Everything but what an open carries at the moment it is decided."""
    return sorted((a.alert_id, a.detector, a.key, a.status, a.window_start,
                   None if a.status == "open" else a.observed,
                   None if a.status == "open" else tuple(a.record_ids)) for a in alerts)


def marked(covered: list) -> list[tuple]:
    """The per-call verdicts: which call, by which incident (their severity, like an open
    alert's, is what was known when the call was marked)."""
    return sorted((c.record_id, c.detector, c.alert_id) for c in covered)


SORTED = {seed: traffic(seed) for seed in (1, 2)}
RUNS = {seed: run_offline(calls, P) for seed, calls in SORTED.items()}
EXPECTED = {seed: settled(run.alerts) for seed, run in RUNS.items()}
VERDICTS = {seed: marked(run.covered) for seed, run in RUNS.items()}


@settings(max_examples=25, deadline=None)
@given(seed=st.sampled_from([1, 2]), order=st.integers(0, 2**32))
def test_a_stream_shuffled_within_the_allowed_lateness_gives_the_same_incidents(
        seed: int, order: int) -> None:
    calls = SORTED[seed]
    shuffle = random.Random(order)
    # each call moved by less than the lateness: none arrives behind the watermark by more
    jitter = [c.start_time.timestamp() + shuffle.uniform(0, LATENESS - 1) for c in calls]
    shuffled = [c for _, c in sorted(zip(jitter, calls, strict=True), key=lambda t: t[0])]
    result = run_offline(shuffled, P)
    assert result.late == 0
    assert settled(result.alerts) == EXPECTED[seed]
    assert marked(result.covered) == VERDICTS[seed]


def test_calls_delivered_three_times_count_once() -> None:
    """One call fewer than a new range's threshold, each delivered three times: below it."""
    b = P.bursts
    n = max(b.min_count, nb_threshold(b.prior_mean, b.dispersion, b.p_value)) - 1
    calls = [cdr(i * 10.0, calling_number=f"0063917551{i:04d}", called_number=f"3{i:09d}")
             for i in range(n)]
    result = run_offline([c for c in calls for _ in range(2)] + calls, P)
    assert result.duplicates > 0
    assert not [a for a in result.alerts if a.detector == "burst_range"]


def test_a_redelivered_source_position_is_folded_once() -> None:
    engine = Engine(P)
    keyed = KeyedStates(engine.families, P.stream.baseline_ttl_s)
    calls = [cdr(i * 2.0, calling_number=f"0063917551{i:04d}") for i in range(25)]
    items = [i for pos, c in enumerate(calls) for f, _, i in engine.route(c, 3, pos).routed
             if f == "burst_range"]
    keyed.fold("burst_range", "+6391755", items[:15], items[14].ts)
    # a crash before the commit: the first fifteen come again, then the rest
    keyed.fold("burst_range", "+6391755", items, items[-1].ts)
    state = keyed.get(("burst_range", "+6391755"))
    assert state is not None
    assert keyed.stats["burst_range"].redelivered == 15
    assert sum(w.n for w in state.windows.values()) == 25


def protected_calls(n: int) -> tuple[KeyedStates, str, str, list]:
    """Empty keyed states, and the spoof_protected items of `n` calls a minute apart from
    the operator's do-not-originate number."""
    engine = Engine(P)
    calls = [cdr(i * 60.0, calling_number="4010086", called_number=f"3{i:09d}")
             for i in range(n)]
    routed = [(f, k, i) for pos, c in enumerate(calls)
              for f, k, i in engine.route(c, 0, pos).routed if f == "spoof_protected"]
    family, key, _ = routed[0]
    return (KeyedStates(engine.families, P.stream.baseline_ttl_s), family, key,
            [i for _, _, i in routed])


def test_a_call_read_again_after_its_key_was_forgotten_is_not_counted_twice() -> None:
    """A restarted worker reads again what the killed one had not committed; a key whose
    windows all closed meanwhile was forgotten, with the positions it had folded."""
    keyed, family, key, items = protected_calls(16)
    first = keyed.fold(family, key, items, items[-1].ts)
    closed = keyed.sweep(0, items[-1].ts + 3 * 3600)  # every window closed: forgotten
    assert (family, key) not in keyed
    again = keyed.fold(family, key, items[:5], items[-1].ts + 3 * 3600)  # read again
    resolved = [a for a in first + closed if a.status == "resolved"]
    assert [a.observed for a in resolved] == [16]
    assert again == [] and keyed.stats[family].late == 5


def test_a_forgotten_key_is_not_adopted_again_from_its_stale_changelog_copy() -> None:
    """The worker's table holds a key's state as the last write round left it: between the
    key being forgotten and its tombstone's round, that copy is older than what was
    resolved, and adopting it resolved the incident a second time (seen in CI)."""
    keyed, family, key, items = protected_calls(6)
    fk = (family, key)
    assert keyed.restorable(fk)  # never seen: a restored copy is what there is
    keyed.fold(family, key, items[:3], None)
    [(_, stale, _)] = keyed.drain()  # a round writes it: the table's copy
    keyed.fold(family, key, items[3:], items[-1].ts)
    keyed.sweep(0, items[-1].ts + 3 * 3600)  # resolved with 6 calls, then forgotten
    assert fk not in keyed and not keyed.restorable(fk)
    assert [value for f, value, _ in keyed.drain() if f == fk] == [None]  # its tombstone
    assert keyed.restorable(fk) and stale is not None  # the table copy is gone with it


def test_five_overlapping_calls_in_reverse_order_are_five_at_once() -> None:
    calls = [cdr(100.0 - i, calling_number="+393331234567", duration_s=300.0,
                 ingress_trunk="NAT-TIM-1") for i in range(5)]
    forward = run_offline(list(reversed(calls)), P).alerts
    backward = run_offline(calls, P).alerts
    assert [a.detector for a in forward if a.status == "open"] == ["spoof_velocity"]
    assert settled(forward) == settled(backward)


def test_newest_first_input_is_counted_as_late_never_silently() -> None:
    calls = [cdr(i * 30.0, calling_number=f"0063917551{i % 10:04d}") for i in range(300)]
    result = run_offline(list(reversed(calls)), P)
    assert result.late > 0


def test_a_silent_key_decays_in_closed_form_as_window_by_window() -> None:
    fam = Engine(P).families["burst_ramp"]
    for base, cusum in ((0.4, 0.0), (6.0, 0.0), (6.0, 40.0), (30.0, 7.5)):
        stepped = Learned(base=base, cusum=cusum)
        for _ in range(37):
            fam.decay(stepped, 1)
        closed = Learned(base=base, cusum=cusum)
        fam.decay(closed, 37)
        assert abs((closed.base or 0) - (stepped.base or 0)) < 1e-9
        assert abs(closed.cusum - stepped.cusum) < 1e-9
    assert abs(_shrink(5.0, 1.0, 0.9, 3) - 5.0 * 0.9 ** 3) < 1e-12
    burst = Engine(P).families["burst_range"]
    one, many = Learned(base=12.0), Learned(base=12.0)
    for _ in range(50):
        burst.decay(one, 1)
    burst.decay(many, 50)
    assert abs((one.base or 0) - (many.base or 0)) < 1e-9 and one.seen == many.seen == 50


def test_keys_are_forgotten_once_idle_and_baselines_after_their_ttl() -> None:
    ttl = 3600
    engine = Engine(policy(stream={"baseline_ttl_s": ttl}))
    keyed = KeyedStates(engine.families, ttl, live=50)  # most keys wait packed
    for i in range(200):  # 200 distinct foreign callers, one call each
        event = cdr(i * 1.0, calling_number=f"+4479{i:08d}", called_number=f"3{i:09d}")
        for family, key, item in engine.route(event, 0, i).routed:
            keyed.fold(family, key, [item], item.ts)
    assert any(f == "fanout_number" for f, _ in keyed)
    assert len(keyed) == sum(keyed.held.values()) > 50
    t0 = T0.timestamp()
    keyed.sweep(0, t0 + 2000)  # every window closed: what learns nothing is gone
    assert {f for f, _ in keyed} == {"burst_range", "burst_country", "burst_ramp"}
    keyed.sweep(0, t0 + 200 + ttl)  # silent past the baseline TTL
    # what stays is a range whose incident a subscriber may still call back
    assert [fk for fk, state in keyed.states() if not state.flags] == []
    keyed.sweep(0, t0 + 200 + ttl + engine.policy.callback.window_h * 3600)
    assert len(keyed) == 0 and sum(keyed.held.values()) == 0
    dropped = [fk for fk, state, _ in keyed.drain() if state is None]
    assert len(dropped) >= 200  # each forgotten key leaves a tombstone for the changelog


def test_partitions_read_at_uneven_speeds_give_the_offline_incidents() -> None:
    """The worker's case in the pure core: four source partitions read in random batches,
    the watermark unknown until each has been read, then the slowest one's event time."""
    from pathlib import Path

    from streams.policy import load_policy
    from streams.replay import read_messages
    from streams.settings import DEFAULT_POLICY

    demo = Path(__file__).resolve().parents[2] / "streams" / "fixtures" / "demo.jsonl"
    pol = load_policy(DEFAULT_POLICY)
    events = [e for line in read_messages([demo]) for e in line.events]
    offline = run_offline(events, pol)
    expected, verdicts = settled(offline.alerts), marked(offline.covered)
    assert verdicts
    for seed in (2, 4):
        rng = random.Random(seed)
        parts: list[list] = [[] for _ in range(4)]
        for pos, event in enumerate(events):
            parts[rng.randrange(4)].append((pos, event))
        engine = Engine(pol)
        keyed = KeyedStates(engine.families, pol.stream.baseline_ttl_s)
        marks: list[float | None] = [None] * 4
        read = [0] * 4
        alerts = []
        while any(read[p] < len(parts[p]) for p in range(4)):
            p = rng.choice([q for q in range(4) if read[q] < len(parts[q])])
            batch = parts[p][read[p]:read[p] + rng.randrange(1, 300)]
            read[p] += len(batch)
            groups: dict[tuple[str, str], list] = {}
            for pos, event in batch:
                for family, key, item in engine.route(event, p, pos).routed:
                    groups.setdefault((family, key), []).append(item)
                marks[p] = max(marks[p] or 0.0, event.start_time.timestamp())
            active = [marks[q] for q in range(4) if read[q] < len(parts[q])]
            known = [m for m in marks if m is not None]
            wm = (None if None in active else min(active) if active else min(known))
            for (family, key), items in groups.items():
                alerts += keyed.fold(family, key, items, wm)
            if wm is not None:
                alerts += keyed.sweep(0, wm)
        alerts += keyed.end()
        assert settled(alerts) == expected, seed
        assert marked(keyed.take_covered()) == verdicts, seed
