"""Trap: a carrier trunk whose switch logs international caller IDs as bare digits.

"639175512345" for +63 917 551 2345: no "+", no "00". The numbers come from the generator's
own pools (libphonenumber metadata) and are formatted here, the E.164 form without its "+";
nothing of the detector's number reading decides them or their labels.
"""

from __future__ import annotations

import numpy as np

from streams.traffic.bursts import foreign_range
from streams.traffic.calls import CARRIER_TRUNK, Calls, Context, batch, pick
from streams.traffic.numbers import build_pool
from streams.traffic.spoofing import Result, as_list, times

_COUNTRIES = "GB/US/CN/PH/DE/FR/RO/IN/NG/BR"


def bare_digits(e164: np.ndarray) -> np.ndarray:
    """'+639175512345' -> '639175512345', as such a switch logs it."""
    return np.array([n.removeprefix("+") for n in e164.tolist()], dtype=object)


def bare_digit_trunk(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                     trunk: str = CARRIER_TRUNK, hours: float = 2.0,
                     calls_per_hour: float = 200.0, countries: str = _COUNTRIES,
                     burst_country: str = "PH", burst_prefix: str | None = None,
                     burst_calls: int = 300, burst_after_minutes: float = 45.0,
                     burst_minutes: float = 10.0, burst_numbers: int = 40) -> Result:
    """The carrier's ordinary inbound calls from many countries (normal traffic, component
    'bare_digit_trunk') and one burst from a foreign range through it (the campaign), every
    caller ID in bare digits. Read in the home plan they look like invalid home numbers and
    the burst families see no foreign caller; read as E.164 the burst stands out."""
    n = int(rng.poisson(calls_per_hour * hours))
    regions = [c for c in as_list(countries) if c.upper() != ctx.home.upper()]
    calling = np.empty(n, dtype=object)
    origin = pick(rng, regions, n).tolist()
    for region in dict.fromkeys(origin):
        pool = build_pool(region, "mobile", 200, ctx.seed)
        mine = np.array([o == region for o in origin], dtype=bool)
        calling[mine] = bare_digits(pool.e164[rng.integers(0, len(pool), int(mine.sum()))])
    carrier = batch(rng, times(rng, t0, hours * 60, n), calling, ctx.callees(rng, n),
                    np.full(n, trunk, dtype=object), answer_rate=0.6, median_s=180.0,
                    component="bare_digit_trunk")
    prefix, pool = foreign_range(ctx, rng, burst_country, burst_prefix, burst_numbers)
    burst = batch(rng, times(rng, t0 + burst_after_minutes * 60, burst_minutes, burst_calls),
                  bare_digits(pool.e164[rng.integers(0, len(pool), burst_calls)]),
                  ctx.callees(rng, burst_calls, distinct=True),
                  np.full(burst_calls, trunk, dtype=object), answer_rate=0.3, median_s=25.0,
                  scenario="bare_digit_trunk", campaign=cid)
    return Calls.concat([carrier, burst]), {"prefix": prefix, "country": pool.region,
                                            "trunk": trunk}
