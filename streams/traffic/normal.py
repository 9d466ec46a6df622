"""Normal traffic: what the detector must stay quiet about.

Domestic calls follow the home daily cycle; inbound international calls come from ~20
countries on their own local clocks; plus roamers calling home, a legitimate call centre
and an enterprise SIP trunk presenting its customer's number.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from streams.traffic.calls import (
    ENT_TRUNK,
    INTL_TRUNKS,
    MOB_TRUNK,
    NAT_TRUNKS,
    Calls,
    Context,
    batch,
    pick,
    stamp_stir,
)
from streams.traffic.numbers import build_pool, hourly_offsets, present, sub_rng

# Inbound international calling countries and relative weights, per home region.
SOURCES: dict[str, dict[str, float]] = {
    "IT": {"RO": 14, "AL": 8, "DE": 9, "FR": 8, "GB": 7, "ES": 6, "CH": 6, "US": 5, "MA": 5,
           "UA": 4, "PH": 3, "IN": 3, "CN": 3, "BD": 2, "EG": 2, "BR": 2, "TN": 2, "SN": 2,
           "PK": 2, "NG": 2, "MD": 3},
    "CN": {"US": 10, "HK": 12, "TW": 8, "JP": 7, "KR": 7, "SG": 6, "MY": 5, "TH": 4, "VN": 4,
           "GB": 4, "AU": 4, "CA": 4, "DE": 3, "FR": 2, "PH": 3, "ID": 3, "MO": 3, "RU": 3,
           "IN": 2, "AE": 2},
}
_GENERIC = {"US": 8, "GB": 7, "DE": 6, "FR": 6, "IN": 6, "CN": 5, "ES": 4, "IT": 4, "BR": 3,
            "MX": 3, "PH": 3, "NG": 3, "RO": 3, "PL": 3, "TR": 3, "JP": 2, "AU": 2, "CA": 3,
            "EG": 2, "PK": 2, "ZA": 2}
CALL_CENTRE_SHARE = 0.04
ENTERPRISE_SHARE = 0.012
ROAMER_SHARE = 0.12  # of international volume
ANONYMOUS_SHARE = 0.02
ENTERPRISE_NUMBER = {"IT": "+390212345678"}


def sources(home: str) -> dict[str, float]:
    """Countries calling the home network and their relative weights (its diaspora)."""
    return SOURCES.get(home) or {k: v for k, v in _GENERIC.items() if k != home}


def _g(h: np.ndarray, mu: float, sd: float) -> np.ndarray:
    d = (h - mu + 12) % 24 - 12
    return np.exp(-0.5 * (d / sd) ** 2)


def _shape(h: np.ndarray) -> np.ndarray:
    return 0.04 + _g(h, 10.8, 2.0) + 0.35 * _g(h, 14.8, 1.4) + 0.9 * _g(h, 18.3, 1.9)


_MEAN = float(_shape(np.linspace(0, 24, 2401)[:-1]).mean())


def activity(local_hour: np.ndarray) -> np.ndarray:
    """Relative call intensity by local hour, mean 1 over a day: night ~5%, peaks ~11h, ~18h."""
    return _shape(local_hour) / _MEAN


def business(local_hour: np.ndarray) -> np.ndarray:
    """Office hours only (9-19h), mean 1 over a day."""
    on = ((local_hour >= 9) & (local_hour < 19)).astype(float)
    return on * 24 / 10


def arrivals(rng: np.random.Generator, ctx: Context, region: str, per_hour: float,
             shape: Callable[[np.ndarray], np.ndarray] = activity) -> np.ndarray:
    """Non-homogeneous Poisson arrivals in one-minute bins, on `region`'s local clock."""
    n_bins = int(np.ceil(ctx.hours * 60))
    offs = np.arange(n_bins) * 60.0
    utc_off = hourly_offsets(region, ctx.t0, ctx.hours)[(offs // 3600).astype(int)]
    local = ((ctx.t0 + offs) / 3600 + utc_off) % 24
    counts = rng.poisson(per_hour / 60 * shape(local + 1 / 120))
    start = np.repeat(ctx.t0 + offs, counts) + rng.random(int(counts.sum())) * 60
    return start[start < ctx.t0 + ctx.hours * 3600]


def zipf_index(rng: np.random.Generator, n: int, size: int, a: float = 0.9) -> np.ndarray:
    """Callers drawn with a heavy head: a few call several times, most once."""
    w = 1.0 / np.arange(1, size + 1) ** a
    return rng.choice(size, size=n, p=w / w.sum())


def domestic(ctx: Context, per_hour: float) -> Calls:
    rng = sub_rng(ctx.seed, "domestic")
    start = arrivals(rng, ctx, ctx.home, per_hour)
    n = len(start)
    mobile = rng.random(n) < 0.7
    m_idx = zipf_index(rng, n, len(ctx.mobiles), 0.3)
    f_idx = zipf_index(rng, n, len(ctx.fixed), 0.3)
    calling = np.where(mobile, present(ctx.mobiles, m_idx, rng, (0.35, 0.15, 0.5), ctx.intl),
                       present(ctx.fixed, f_idx, rng, (0.35, 0.15, 0.5), ctx.intl))
    calling[rng.random(n) < ANONYMOUS_SHARE] = "anonymous"
    trunk = np.where(mobile, pick(rng, (MOB_TRUNK, *NAT_TRUNKS), n, [0.6, 0.2, 0.2]),
                     pick(rng, NAT_TRUNKS, n, [0.6, 0.4]))
    calls = batch(rng, start, calling, ctx.callees(rng, n), trunk, answer_rate=0.71,
                  median_s=85.0, component="domestic")
    stamp_stir(rng, calls, 0.3, {"TN-Validation-Passed": 0.97, "No-TN-Validation": 0.03},
               {"A": 0.8, "B": 0.2})
    return calls


def callers_abroad(ctx: Context, rng: np.random.Generator, region: str, n: int) -> np.ndarray:
    """n caller IDs of `region`'s people, "+CC" or "00CC", a few numbers calling often."""
    mob = build_pool(region, "mobile", 1000, ctx.seed)
    fix = build_pool(region, "fixed", 300, ctx.seed)
    mobile = rng.random(n) < 0.75
    from_mob = present(mob, zipf_index(rng, n, len(mob), 0.6), rng, (0.55, 0.45, 0.0), ctx.intl)
    from_fix = present(fix, zipf_index(rng, n, len(fix), 0.6), rng, (0.5, 0.5, 0.0), ctx.intl)
    return np.where(mobile, from_mob, from_fix)


def international(ctx: Context, per_hour: float) -> Calls:
    """Inbound calls from abroad: "+CC" or "00CC" callers on the international trunks."""
    weights = sources(ctx.home)
    total = sum(weights.values())
    parts = []
    for i, (region, weight) in enumerate(sorted(weights.items())):
        rng = sub_rng(ctx.seed, "international", region)
        start = arrivals(rng, ctx, region, per_hour * weight / total)
        n = len(start)
        calling = callers_abroad(ctx, rng, region, n)
        main = INTL_TRUNKS[i % len(INTL_TRUNKS)]
        others = [t for t in INTL_TRUNKS if t != main]
        trunk = pick(rng, (main, *others), n, [0.7, 0.15, 0.15])
        calls = batch(rng, start, calling, ctx.callees(rng, n), trunk, answer_rate=0.66,
                      median_s=170.0, sigma=1.1, component="international")
        stamp_stir(rng, calls, 0.1, {"TN-Validation-Passed": 0.6, "No-TN-Validation": 0.4},
                   {None: 0.4, "C": 0.6})
        parts.append(calls)
    return Calls.concat(parts)


def roamers(ctx: Context, per_hour: float) -> Calls:
    """Home subscribers abroad calling home: domestic caller ID, international trunk, legit."""
    rng = sub_rng(ctx.seed, "roamers")
    start = arrivals(rng, ctx, ctx.home, per_hour)
    n = len(start)
    travellers = rng.choice(len(ctx.subscribers), size=300, replace=False)
    idx = travellers[zipf_index(rng, n, len(travellers), 0.6)]
    calling = present(ctx.subscribers, idx, rng, (0.85, 0.15, 0.0), ctx.intl)
    trunk = pick(rng, INTL_TRUNKS, n)
    return batch(rng, start, calling, ctx.callees(rng, n), trunk, answer_rate=0.72,
                 median_s=120.0, component="roamer", roaming=np.full(n, True, dtype=object))


def call_centre(ctx: Context, per_hour: float) -> Calls:
    """A domestic call centre: a few fixed numbers, many calls, national trunk, office hours."""
    rng = sub_rng(ctx.seed, "call_centre")
    start = arrivals(rng, ctx, ctx.home, per_hour, business)
    n = len(start)
    lines = ctx.fixed.e164[-4:]  # the domestic Zipf head is at the front of the pool
    calling = lines[rng.choice(len(lines), size=n, p=[0.55, 0.25, 0.15, 0.05])]
    return batch(rng, start, calling, ctx.callees(rng, n), np.full(n, NAT_TRUNKS[0], dtype=object),
                 answer_rate=0.45, median_s=70.0, sigma=0.8, component="call_centre")


def enterprise(ctx: Context, per_hour: float) -> Calls:
    """ACME's SIP trunk legitimately presents its customer's number (allow-listed)."""
    rng = sub_rng(ctx.seed, "enterprise")
    start = arrivals(rng, ctx, ctx.home, per_hour, business)
    n = len(start)
    number = ENTERPRISE_NUMBER.get(ctx.home) or str(ctx.fixed.e164[-5])
    return batch(rng, start, np.full(n, number, dtype=object), ctx.callees(rng, n),
                 np.full(n, ENT_TRUNK, dtype=object), answer_rate=0.62, median_s=110.0,
                 component="enterprise")


def normal_traffic(ctx: Context, calls_per_hour: float, international_share: float) -> Calls:
    """All normal components; `calls_per_hour` is the mean over a day of their total."""
    intl = calls_per_hour * international_share
    dom = calls_per_hour - intl
    return Calls.concat([
        domestic(ctx, dom * (1 - CALL_CENTRE_SHARE - ENTERPRISE_SHARE)),
        international(ctx, intl * (1 - ROAMER_SHARE)),
        roamers(ctx, intl * ROAMER_SHARE),
        call_centre(ctx, dom * CALL_CENTRE_SHARE),
        enterprise(ctx, dom * ENTERPRISE_SHARE),
    ])
