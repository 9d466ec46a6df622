"""Windowed statistics: input calls -> expected alert tables, lifecycle, batching, lateness."""

from __future__ import annotations

import random

import pytest

from streams.detect.countmodel import nb_threshold
from streams.detect.engine import Engine, run_offline
from streams.detect.keyed import KeyedStates
from streams.detect.state import KeyState, dump_state, load_state
from streams.detect.windowed import FoldStats, fold
from tests.unit.factories import cdr, policy

P = policy()


def burst(n: int, every_s: float = 1.0, start: float = 0, prefix: str = "0063917551",
          **fields: object) -> list:
    return [cdr(start + i * every_s, calling_number=f"{prefix}{i % 100:04d}",
                called_number=f"3{(i * 7919) % 10**9:09d}", **fields) for i in range(n)]


def table(alerts: list) -> list[tuple]:
    return [(a.detector, a.status, a.key, a.observed) for a in alerts]


def test_sudden_burst_from_unseen_range_opens_at_the_prior_threshold_then_resolves() -> None:
    """A never-seen range is judged against the prior (what new ranges bring), not a floor."""
    b = P.bursts
    need = max(b.min_count, nb_threshold(b.prior_mean, b.dispersion, b.p_value))
    result = run_offline(burst(100, every_s=2.0), P)
    rows = [r for r in table(result.alerts) if r[0] == "burst_range"]
    assert rows == [
        ("burst_range", "open", "+6391755", need),
        ("burst_range", "update", "+6391755", 100),
        ("burst_range", "resolved", "+6391755", 0),
    ]
    opened = next(a for a in result.alerts if a.detector == "burst_range")
    assert opened.detected_at.timestamp() - opened.window_start.timestamp() == 2.0 * (need - 1)
    assert len(opened.record_ids) == need and opened.baseline == b.prior_mean
    assert "negative-binomial" in opened.explanation
    assert "range never seen; new ranges bring 0.5 calls per 5 min here" in opened.explanation


def test_quiet_international_traffic_from_many_ranges_raises_nothing() -> None:
    rng = random.Random(3)
    calls = [cdr(i * 20.0, calling_number=f"+4479{rng.randrange(10**8):08d}",
                 called_number=f"3{rng.randrange(10**9):09d}") for i in range(2000)]
    windowed = [a for a in run_offline(calls, P).alerts if not a.detector.startswith("spoof_")]
    assert windowed == []


@pytest.mark.parametrize(("lagging_watermark", "live"), [(False, 20_000), (True, 20_000),
                                                        (True, 3)])
def test_batched_and_one_by_one_folds_give_identical_alerts(lagging_watermark: bool,
                                                            live: int) -> None:
    """With a lagging watermark (the worker's case) a batch's calls share one watermark.
    With 3 live states, nearly every key waits packed between its calls."""
    rng = random.Random(11)
    calls = burst(300, every_s=1.5) + [
        cdr(rng.uniform(0, 900), calling_number=f"+4479{rng.randrange(10**8):08d}")
        for _ in range(300)]
    calls.sort(key=lambda e: e.start_time)
    engine = Engine(P)
    keyed = KeyedStates(engine.families, P.stream.baseline_ttl_s, live=live)
    batched = []
    for i in range(0, len(calls), 37):  # odd batch size on purpose
        chunk = calls[i:i + 37]
        groups: dict[tuple[str, str], list] = {}
        for pos, event in enumerate(chunk, start=i):
            for fam, key, item in engine.route(event, 0, pos).routed:
                groups.setdefault((fam, key), []).append(item)
        wm = chunk[-1].start_time.timestamp()
        if lagging_watermark:
            wm = calls[i - 1].start_time.timestamp() if i else None
        for (fam, key), items in groups.items():
            batched += keyed.fold(fam, key, items, wm)
        if wm is not None:
            batched += keyed.sweep(0, wm)
    batched += keyed.end()
    single = run_offline(calls, P).alerts
    if lagging_watermark:  # an open carries what its window held when it could be decided
        batched, single = settled(batched), settled(single)
    key = lambda a: (a.detector, a.key, a.status, a.window_start)  # noqa: E731
    assert sorted(batched, key=key) == sorted(single, key=key)


def settled(alerts: list) -> list:
    """Alerts as far as arrival order cannot change them: an open's identity; the rest whole."""
    return [a.model_copy(update={"observed": 0, "record_ids": [], "detected_at": a.window_start,
                                 "score": 0, "severity": "info", "explanation": ""})
            if a.status == "open" else a for a in alerts]


def test_state_survives_a_changelog_round_trip() -> None:
    engine = Engine(P)
    items = [r[2] for e in burst(60, every_s=4.0) for r in engine.route(e).routed
             if r[0] == "burst_range"]
    fam = engine.families["burst_range"]
    state = KeyState()
    fold(fam, "+6391755", state, items[:30], items[29].ts, FoldStats())
    restored = load_state(dump_state(state))
    assert restored == state
    a1 = fold(fam, "+6391755", restored, items[30:], items[-1].ts, FoldStats())
    a2 = fold(fam, "+6391755", state, items[30:], items[-1].ts, FoldStats())
    assert a1 and a1 == a2  # the open waits for the window before it to be final


def test_fanout_of_one_number_and_bombarded_subscriber() -> None:
    fan = [cdr(i * 5, calling_number="00447911123456", called_number=f"3{i:09d}")
           for i in range(30)]
    bomb = [cdr(i * 20, calling_number=f"+1201555{i:04d}", called_number="3331112222")
            for i in range(10)]
    alerts = run_offline(fan + bomb, P).alerts
    opened = {(a.detector, a.key) for a in alerts if a.status == "open"}
    assert ("fanout_number", "+447911123456") in opened
    assert ("targeted_subscriber", "+393331112222") in opened


def test_spoof_campaign_is_one_incident_per_dedup_window_opened_by_its_first_call() -> None:
    calls = [cdr(i * 3.0, calling_number="4010086", called_number=f"3{i:09d}")
             for i in range(2000)]  # 100 minutes: the hour from 10:00 and the next
    rows = table([a for a in run_offline(calls, P).alerts if a.detector == "spoof_protected"])
    assert rows[0] == ("spoof_protected", "open", "+394010086", 1)
    assert [r[1] for r in rows] == ["open", "open", "resolved", "resolved"]
    assert sum(r[3] for r in rows if r[1] == "resolved") == 2000


def test_an_incident_of_one_call_is_two_lines() -> None:
    alerts = run_offline([cdr(0, calling_number="4010086")], P).alerts
    assert [(a.detector, a.status) for a in alerts] == [
        ("spoof_protected", "open"), ("spoof_protected", "resolved")]
    assert alerts[0].alert_id == alerts[1].alert_id and alerts[1].observed == 1


def test_nb_threshold_grows_with_the_mean_and_is_above_it() -> None:
    limits = [nb_threshold(m, 5.0, 1e-6) for m in (0.5, 5, 50, 500)]
    assert limits == sorted(limits)
    assert all(t > m for t, m in zip(limits, (0.5, 5, 50, 500), strict=True))


@pytest.mark.parametrize(("ring_s", "cause", "expect"), [
    (2.0, 16, True),    # caller hung up after one ring: the wangiri trick
    (45.0, 16, False),  # rang for 45 s: a normal missed call
    (2.0, 17, False),   # busy: released by the callee's side
])
def test_wangiri_one_ring_is_judged_by_ringing_time_and_release_cause(
        ring_s: float, cause: int, expect: bool) -> None:
    from datetime import timedelta

    calls = [cdr(i * 5.0, calling_number=f"0021624257{i:03d}", called_number=f"3{i:09d}",
                 answered=False, duration_s=0, release_cause=cause) for i in range(40)]
    calls = [c.model_copy(update={"end_time": c.start_time + timedelta(seconds=ring_s)})
             for c in calls]
    fired = any(a.detector == "wangiri_range" for a in run_offline(calls, P).alerts)
    assert fired is expect


def test_a_failed_write_is_redone_alone_and_packed_keys_drain_their_current_state() -> None:
    """The worker rewrites a key whose changelog write failed without draining the keys
    other messages changed meanwhile: their events are acked by the round that writes them."""
    engine = Engine(P)
    keyed = KeyedStates(engine.families, P.stream.baseline_ttl_s, live=1)
    for pos, event in enumerate(burst(30, every_s=2.0)):
        for fam, key, item in engine.route(event, 0, pos).routed:
            keyed.fold(fam, key, [item], item.ts)
    first = {fk: value for fk, value, _ in keyed.drain()}
    assert ("burst_range", "+6391755") in first and keyed.drain() == []
    for fk in first:
        state = keyed.get(fk)
        assert state is not None and load_state(first[fk]) == state
    keyed.rewrite(("burst_range", "+6391755"), 0)
    keyed.fold("burst_country", "+63", [], None)  # another key changed meanwhile
    redone = keyed.drain(only=[("burst_range", "+6391755")])
    assert [fk for fk, *_ in redone] == [("burst_range", "+6391755")]
    assert [fk for fk, *_ in keyed.drain()] == [("burst_country", "+63")]
