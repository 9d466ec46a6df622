"""International burst campaigns: one foreign range or number, far above its baseline.

Same signature as the spoofing scenarios: `fn(ctx, rng, t0, cid, **params)`.
"""

from __future__ import annotations

import numpy as np

from streams.traffic.calls import INTL_TRUNKS, MOB_TRUNK, Calls, Context, batch, pick
from streams.traffic.numbers import Pool, build_pool, present, range_pool
from streams.traffic.spoofing import Result, as_list, times

_DEFAULT_COUNTRIES = "GB/US/RO/PH/NG/TN/AL/MA/PK/BD"
_ABROAD = ("NG", "PH", "TN")


def abroad(ctx: Context, country: str) -> str:
    """A campaign from abroad never comes from the operator's own country (a GB operator's
    fan-out from "GB" would be domestic traffic): such a source gives way to the first of
    _ABROAD that differs, and the campaign summary names the one used."""
    if country.upper() != ctx.home.upper():
        return country
    return next(c for c in _ABROAD if c != ctx.home.upper())


def foreign_range(ctx: Context, rng: np.random.Generator, country: str, prefix: str | None,
                  numbers: int) -> tuple[str, Pool]:
    """A number block: the given '+CC....' prefix, or one carved from a real number."""
    if prefix is None:
        sample = build_pool(abroad(ctx, country), "mobile", 200, ctx.seed)
        e164 = str(sample.e164[rng.integers(len(sample))])
        prefix = e164[: len(str(sample.country_code)) + 1 + 5]
    return prefix, range_pool(prefix, numbers, ctx.seed)


def intl_burst(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
               country: str = "PH", prefix: str | None = None, calls: int = 350,
               minutes: float = 10.0, numbers: int = 40, answer_rate: float = 0.3) -> Result:
    """One foreign range suddenly calls hundreds of distinct subscribers, "00"-prefixed."""
    prefix, pool = foreign_range(ctx, rng, country, prefix, numbers)
    calling = present(pool, rng.integers(0, len(pool), calls), rng, (0.1, 0.9, 0.0), ctx.intl)
    out = batch(rng, times(rng, t0, minutes, calls), calling,
                ctx.callees(rng, calls, distinct=True),
                pick(rng, INTL_TRUNKS, calls, [0.8, 0.1, 0.1]), answer_rate=answer_rate,
                median_s=25.0, scenario="intl_burst", campaign=cid)
    return out, {"prefix": prefix, "country": pool.region}


def wangiri(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
            country: str = "TN", prefix: str | None = None, calls: int = 250,
            minutes: float = 25.0, numbers: int = 30) -> Result:
    """One-ring calls from one range: 0-2 s, mostly unanswered, causes 16/19/31."""
    prefix, pool = foreign_range(ctx, rng, country, prefix, numbers)
    calling = present(pool, rng.integers(0, len(pool), calls), rng, (0.3, 0.7, 0.0), ctx.intl)
    out = batch(rng, times(rng, t0, minutes, calls), calling,
                ctx.callees(rng, calls, distinct=True),
                pick(rng, INTL_TRUNKS, calls, [0.2, 0.2, 0.6]), answer_rate=0.0,
                median_s=1.0, scenario="wangiri", campaign=cid)
    picked_up = rng.random(calls) < 0.08
    out.answered = picked_up
    out.duration = np.where(picked_up, np.round(rng.uniform(0.3, 2.0, calls), 1), 0.0)
    out.ring = np.round(np.where(picked_up, rng.uniform(1.0, 3.0, calls),
                                 rng.uniform(0.5, 2.5, calls)), 3)
    out.cause = np.where(picked_up, 16, rng.choice([16, 19, 31], size=calls, p=[0.5, 0.3, 0.2]))
    return out, {"prefix": prefix, "country": pool.region}


def wangiri_callbacks(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                      country: str = "TN", prefix: str | None = None, calls: int = 250,
                      minutes: float = 25.0, numbers: int = 30, callback_share: float = 0.15,
                      within_h: float = 3.0) -> Result:
    """A wangiri run and what it is for: a share of the subscribers it rang dial the
    missed number back (outbound CDRs), within `within_h` hours, and mostly talk."""
    run, resolved = wangiri(ctx, rng, t0, cid, country=country, prefix=prefix, calls=calls,
                            minutes=minutes, numbers=numbers)
    back = np.flatnonzero(rng.random(calls) < callback_share)
    n = len(back)
    start = run.start[back] + run.ring[back] + rng.uniform(60.0, within_h * 3600, n)
    dialled = [c if c.startswith(ctx.intl) else ctx.intl + c.lstrip("+")
               for c in run.calling[back].tolist()]
    cb = batch(rng, start, run.called[back], np.array(dialled, dtype=object),
               np.full(n, MOB_TRUNK, dtype=object), answer_rate=0.9, median_s=45.0,
               scenario="wangiri_callback", campaign=cid, component="callback")
    cb.direction[:] = "outbound"
    return Calls.concat([run, cb]), {**resolved, "callbacks": n}


def fanout_number(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                  country: str = "GB", number: str | None = None, calls: int = 150,
                  minutes: float = 30.0) -> Result:
    """One "00" number calling many distinct subscribers, posing as customer service."""
    if number is None:
        pool = build_pool(abroad(ctx, country), "mobile", 200, ctx.seed)
        number = str(pool.e164[rng.integers(len(pool))])
    raw = ctx.intl + number[1:] if number.startswith("+") else number
    out = batch(rng, times(rng, t0, minutes, calls), np.full(calls, raw, dtype=object),
                ctx.callees(rng, calls, distinct=True),
                np.full(calls, INTL_TRUNKS[1], dtype=object), answer_rate=0.45,
                median_s=150.0, scenario="fanout_number", campaign=cid)
    return out, {"number": raw}


def slow_ramp(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
              country: str = "SN", prefix: str | None = None, hours: float = 2.0,
              start_per_hour: float = 4.0, end_per_hour: float = 240.0,
              numbers: int = 60) -> Result:
    """A range whose rate grows exponentially from a trickle: evades jump detectors."""
    prefix, pool = foreign_range(ctx, rng, country, prefix, numbers)
    minute = np.arange(int(np.ceil(hours * 60)))
    growth = np.log(end_per_hour / start_per_hour) / max(hours * 60, 1)
    counts = rng.poisson(start_per_hour / 60 * np.exp(growth * (minute + 0.5)))
    start = np.sort(np.repeat(t0 + minute * 60.0, counts) + rng.random(int(counts.sum())) * 60)
    n = len(start)
    calling = present(pool, rng.integers(0, len(pool), n), rng, (0.3, 0.7, 0.0), ctx.intl)
    out = batch(rng, start, calling, ctx.callees(rng, n), pick(rng, INTL_TRUNKS, n),
                answer_rate=0.35, median_s=40.0, scenario="slow_ramp", campaign=cid)
    return out, {"prefix": prefix, "country": pool.region}


def bombarded_subscriber(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                         subscriber: str | None = None, calls: int = 40, minutes: float = 20.0,
                         countries: str = _DEFAULT_COUNTRIES) -> Result:
    """One subscriber receives many international calls from different numbers (SIM-swap
    cover, harassment, or a distraction while an account is emptied)."""
    if subscriber is None:
        subscriber = str(ctx.subscribers.national[rng.integers(len(ctx.subscribers))])
    regions = list(dict.fromkeys(abroad(ctx, r) for r in as_list(countries)))
    calling = np.empty(calls, dtype=object)
    for i, region in enumerate(pick(rng, regions, calls).tolist()):
        pool = build_pool(region, "mobile", 200, ctx.seed)
        one = rng.integers(0, len(pool), 1)
        calling[i] = present(pool, one, rng, (0.5, 0.5, 0.0), ctx.intl)[0]
    out = batch(rng, times(rng, t0, minutes, calls), calling,
                np.full(calls, subscriber, dtype=object), pick(rng, INTL_TRUNKS, calls),
                answer_rate=0.3, median_s=45.0,
                scenario="bombarded_subscriber", campaign=cid)
    return out, {"subscriber": subscriber, "countries": "/".join(regions)}
