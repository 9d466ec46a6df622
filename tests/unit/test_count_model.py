"""The learned count model on simulated series whose truth is known (numpy, fixed seeds).

Each window is judged against what its key had learned before it and then learned from,
as the fold does; a window with no call is a silent window (`decay`), as in the fold.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from scipy.stats import binom, nbinom, poisson

from streams.detect.countmodel import nb_threshold
from streams.detect.engine import Engine
from streams.detect.families import BurstFamily
from streams.detect.seasons import HOURS_IN_WEEK, local_slot
from streams.detect.state import KeyState, Learned, Window
from streams.detect.windowed import FoldStats, Item, _as_of, fold
from tests.unit.factories import policy

START = int(datetime(2026, 1, 5, tzinfo=UTC).timestamp())  # a Monday, winter time in Rome
DAY = 288  # 5-minute windows


def family(timezone: str = "UTC", **bursts: object) -> BurstFamily:
    fam = Engine(policy(timezone=timezone, bursts=bursts)).families["burst_range"]
    assert isinstance(fam, BurstFamily)
    return fam


def run(fam: BurstFamily, counts: np.ndarray, start: int = START, judge_from: int = 0,
        learned: Learned | None = None) -> tuple[Learned, list[int]]:
    """Feed one count per window; the windows (index) that crossed, from `judge_from` on."""
    learned = learned if learned is not None else Learned()
    crossed = []
    for i, n in enumerate(counts.tolist()):
        ws = start + i * fam.window_s
        if n == 0:
            fam.decay(learned, 1)
            continue
        win = Window(n=n, distinct={str(j) for j in range(min(n, 64))})
        fam.judge(learned, ws, win)
        if i >= judge_from and fam.crossed(win):
            win.fired = True
            crossed.append(i)
        fam.learn(learned, win, ws)
    return learned, crossed


def nb(rng: np.random.Generator, mean: float, size: float | None, n: int) -> np.ndarray:
    if size is None:
        return rng.poisson(mean, n)
    return rng.negative_binomial(size, size / (size + mean), n)


@pytest.mark.parametrize(("mean", "size"), [(40.0, 4.0), (20.0, 20.0), (100.0, 2.0),
                                            (5.0, 3.0)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_learned_size_converges_to_the_true_dispersion(mean: float, size: float,
                                                           seed: int) -> None:
    """Tolerance: three of the estimator's own standard errors on phi = 1 / size, and in
    any case within a factor 1.6 of the true size (what 3 se is on these series)."""
    fam = family()
    learned, _ = run(fam, nb(np.random.default_rng(seed), mean, size, 14 * DAY),
                     judge_from=10**9)
    phi, se = fam.phi(learned)
    assert abs(phi - 1 / size) <= 3 * se
    assert 1 / 1.6 <= (1 / phi) / size <= 1.6


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_poisson_key_learns_a_poisson_size(seed: int) -> None:
    fam = family()
    learned, _ = run(fam, nb(np.random.default_rng(seed), 30.0, None, 14 * DAY),
                     judge_from=10**9)
    phi, se = fam.phi(learned)
    assert phi <= 3 * se and 1 / (phi + se) >= 50  # far tighter than the prior's 5


@pytest.mark.parametrize(("mean", "size"), [(30.0, 5.0), (30.0, None), (5.0, None),
                                            (100.0, 1.5)])
@pytest.mark.parametrize("p_value", [1e-3, 1e-4])
def test_false_alarms_on_stationary_series_stay_within_the_promise(
        mean: float, size: float | None, p_value: float) -> None:
    """After two days of learning, windows alert at most at twice the p-value (slack 2:
    the size is an estimate), judged at 99.9% confidence over 5 x 20,000 windows."""
    fam = family(p_value=p_value)
    alarms = judged = 0
    for seed in range(5):
        counts = nb(np.random.default_rng(100 + seed), mean, size, 20_000)
        _, crossed = run(fam, counts, judge_from=2 * DAY)
        alarms += len(crossed)
        judged += len(counts) - 2 * DAY
    assert alarms <= binom.ppf(0.999, judged, 2 * p_value)


@pytest.mark.parametrize(("mean", "size"), [(50.0, None), (50.0, 5.0), (500.0, 1.5)])
def test_no_alarm_at_the_default_p_value_on_a_month_of_stationary_traffic(
        mean: float, size: float | None) -> None:
    fam = family()
    _, crossed = run(fam, nb(np.random.default_rng(7), mean, size, 30 * DAY),
                     judge_from=2 * DAY)
    assert crossed == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_doubled_mean_alerts_on_a_poisson_like_key(seed: int) -> None:
    """At mean 50 the old fixed size 5 put the threshold at 4.9x the mean; a learned
    Poisson-like key alerts on a window at twice its mean."""
    fam = family()
    learned, _ = run(fam, nb(np.random.default_rng(seed), 50.0, None, 3 * DAY),
                     judge_from=10**9)
    b = fam.p
    assert nb_threshold(50.0, b.dispersion, b.p_value) > 4 * 50  # what it was
    win = Window(n=100, distinct={str(j) for j in range(100)})
    fam.judge(learned, START + 3 * DAY * fam.window_s, win)
    assert fam.crossed(win), win.thr


def test_a_level_that_persists_becomes_the_keys_normal_within_hours() -> None:
    """A range never seen starts placing about 30 calls per 5 minutes and keeps on (a new
    call centre): it crosses at first; learning its crossed windows up to their threshold
    makes the level normal. Never learning a crossed window, it crossed all day."""
    fam = family()
    counts = np.random.default_rng(8).poisson(30.0, DAY)
    _, crossed = run(fam, counts)
    assert crossed and crossed[0] == 0
    assert max(crossed) < 12, crossed  # quiet again within the hour


@pytest.mark.parametrize("seed", [1, 2])
def test_a_campaign_is_not_learned_away_while_it_lasts(seed: int) -> None:
    """Learned up to its threshold, an attack lifts the level by little: a key with a day
    of history at mean 5 still crosses in each of six windows at eight times that, and one
    window of 400 calls moves its baseline by at most the learning rate times its threshold
    (a guard against learning an attack in full, which the previous design never did)."""
    fam = family()
    history, _ = run(fam, np.random.default_rng(seed).poisson(5.0, DAY), judge_from=10**9)
    assert history.base is not None
    start = START + DAY * fam.window_s
    _, crossed = run(fam, np.full(6, 40), start=start, learned=copy.deepcopy(history))
    assert crossed == list(range(6))
    after, crossed = run(fam, np.full(1, 400), start=start, learned=copy.deepcopy(history))
    judged = Window(n=400, distinct={str(j) for j in range(64)})
    fam.judge(copy.deepcopy(history), start, judged)
    assert crossed == [0] and after.base is not None and judged.thr is not None
    # learned in full, the 400 calls would lift it by lr * (400 - mean), about 20
    assert after.base - history.base <= fam.p.learning_rate * judged.thr


def test_a_wildly_swinging_key_keeps_a_wide_threshold() -> None:
    fam = family()
    counts = nb(np.random.default_rng(5), 50.0, 1.0, 10 * DAY)
    learned, crossed = run(fam, counts, judge_from=2 * DAY)
    assert crossed == []
    win = Window(n=1, distinct={"x"})
    fam.judge(learned, START + 10 * DAY * fam.window_s, win)
    assert win.thr is not None and win.thr > nbinom.isf(1e-3, 1.0, 1 / 51)  # > its 1e-3 tail


def _daily(rng: np.random.Generator, start: datetime, days: int, zone: str) -> np.ndarray:
    """Poisson counts with a steep local-time profile: 3 a window at night, 60 by day."""
    tz = ZoneInfo(zone)
    hours = [(start + timedelta(minutes=5 * i)).astimezone(tz).hour for i in range(days * DAY)]
    return rng.poisson(np.where((np.array(hours) >= 8) & (np.array(hours) < 20), 60.0, 3.0))


@pytest.mark.parametrize("change", [datetime(2026, 3, 29, tzinfo=UTC),
                                    datetime(2026, 10, 25, tzinfo=UTC)])
def test_a_daily_profile_in_rome_does_not_alert_across_a_dst_change(change: datetime) -> None:
    """Three weeks before the change to one after it. In UTC the same key's profile moves an
    hour at the change and its 08:00 rise alerts: the test can fail."""
    start = change - timedelta(days=21)
    counts = _daily(np.random.default_rng(3), start, 28, "Europe/Rome")
    begin = int(start.timestamp())
    _, local = run(family("Europe/Rome"), counts, start=begin, judge_from=7 * DAY)
    _, utc = run(family("UTC"), counts, start=begin, judge_from=7 * DAY)
    assert local == []
    assert any(i >= 21 * DAY for i in utc)


def test_a_weekly_profile_takes_over_after_a_week() -> None:
    """60 a window on weekdays, 10 at weekends, for eight weeks: no alarm after the first
    week, and the weekday's own profile keeps the spread Poisson-like, so a doubled Monday
    alerts. With the daily profile only, the weekend swing is learned as spread instead."""
    days = np.arange(56 * DAY) // DAY % 7  # START is a Monday
    counts = np.random.default_rng(9).poisson(np.where(days < 5, 60.0, 10.0))
    monday = START + 56 * DAY * 300 + 10 * 3600
    thresholds = []
    for week in (7 * DAY, 10**9):
        fam = family()
        fam.week = week
        learned, crossed = run(fam, counts, judge_from=8 * DAY)
        assert crossed == []
        win = Window(n=1, distinct={"x"})
        fam.judge(learned, monday, win)
        thresholds.append(win.thr)
    weekly, daily_only = thresholds
    assert weekly is not None and daily_only is not None
    assert weekly <= 2 * 60 < daily_only


def test_silent_windows_fold_in_closed_form_as_one_by_one() -> None:
    fam = family()
    learned, _ = run(fam, nb(np.random.default_rng(2), 4.0, 2.0, DAY), judge_from=10**9)
    one, many = (Learned(**{f: getattr(learned, f) for f in learned.__struct_fields__})
                 for _ in range(2))
    for _ in range(37):
        fam.decay(one, 1)
    fam.decay(many, 37)
    for field in ("base", "excess", "mean_sq", "windows", "seen"):
        assert getattr(one, field) == pytest.approx(getattr(many, field), rel=1e-9)


def test_poisson_tail_is_what_a_huge_size_gives() -> None:
    assert nb_threshold(50.0, 1000.0, 1e-6) <= poisson.isf(1e-6, 50.0) + 3


@pytest.mark.parametrize("ws", [0, 1_790_000_100, 1_774_746_000, 1_792_893_600])
def test_the_utc_slot_arithmetic_is_the_calendars(ws: int) -> None:
    at = datetime.fromtimestamp(ws, UTC)
    assert local_slot(ws, "UTC") == (at.hour, at.weekday() * 24 + at.hour)
    rome = datetime.fromtimestamp(ws, ZoneInfo("Europe/Rome"))
    assert local_slot(ws, "Europe/Rome") == (rome.hour, rome.weekday() * 24 + rome.hour)


class Recording(BurstFamily):
    """Notes the hour-of-week profile after each window it learns."""

    def __init__(self) -> None:
        super().__init__("burst_range", policy().bursts, 50, 0, "UTC", ("range", "ranges"))
        self.after: dict[int, list[float | None]] = {}

    def learn(self, learned: Learned, win: Window, ws: int) -> None:
        super().learn(learned, win, ws)
        self.after[ws] = list(learned.how or [None] * HOURS_IN_WEEK)


def test_a_snapshot_rebuilds_the_weekly_profile_it_had() -> None:
    """Snapshots keep no copy of the 168-slot profile; the view of any of them, rebuilt
    from the key's profile through the windows learned since, is what it held then (a
    burst that crossed and was not learned included)."""
    fam = Recording()
    rng = np.random.default_rng(4)
    counts = rng.poisson(3.0, 9 * DAY)
    counts[8 * DAY + 30] = 60  # crosses: not learned
    items = [Item(START + w * 300 + j, f"r{w}-{j}", "+1", f"c{j}", 1.0, True, src=0,
                  pos=w * 100 + j) for w, n in enumerate(counts.tolist()) for j in range(n)]
    state, checked = KeyState(), 0
    for at in range(0, len(items), 40):
        batch = items[at:at + 40]
        fold(fam, "+1", state, batch, batch[-1].ts, FoldStats())
        for best in state.snaps:
            how = _as_of(state, best).how
            assert (how or [None] * HOURS_IN_WEEK) == fam.after[best]
            checked += how is not None and any(v is not None for v in how)
    assert checked > 100
