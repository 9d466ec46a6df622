"""Traps: legitimate traffic shaped like fraud, which detectors must not alert on.

Each is a scenario (`fn(ctx, rng, t0, cid, **params)`, like the campaigns) whose calls are
labelled with the trap's name and `fraud: false`. An alert of medium severity or above on
them is a false alarm (streams/evaluation/traps.py counts them). Traps that last all day
(`hours=None`) run from their start to the end of the run, so they recur on every day of a
multi-day run and a learning detector can absorb them.
"""

from __future__ import annotations

import numpy as np

from streams.traffic.bursts import foreign_range
from streams.traffic.calls import INTL_TRUNKS, MOB_TRUNK, NAT_TRUNKS, Calls, Context, batch, pick
from streams.traffic.normal import ROAMER_SHARE, activity, arrivals, business, callers_abroad
from streams.traffic.normal import sources as diaspora
from streams.traffic.numbers import build_pool, present
from streams.traffic.spoofing import Result, as_list


def roamer_unflagged(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                     hours: float | None = None, calls_per_hour: float = 20.0,
                     travellers: int = 300) -> Result:
    """Home subscribers abroad calling home over the international trunks, from a visited
    network that does not say they roam: the records carry no `calling_roaming` at all."""
    span = ctx.until_end(t0, hours)
    start = arrivals(rng, span, ctx.home, calls_per_hour)
    n = len(start)
    away = rng.choice(len(ctx.subscribers), size=min(travellers, len(ctx.subscribers)),
                      replace=False)
    calling = present(ctx.subscribers, away[rng.integers(0, len(away), n)], rng,
                      (0.85, 0.15, 0.0), ctx.intl)
    out = batch(rng, start, calling, ctx.callees(rng, n), pick(rng, INTL_TRUNKS, n),
                answer_rate=0.72, median_s=120.0, scenario="roamer_unflagged", campaign=cid)
    return out, {"travellers": len(away)}


def foreign_call_centre(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                        country: str = "AL", prefix: str | None = None, lines: int = 40,
                        calls_per_day: float = 3000.0, hours: float | None = None,
                        trunk: str = INTL_TRUNKS[0]) -> Result:
    """An outsourced call centre abroad: one foreign range, office hours on its own clock,
    the same volume every day to thousands of distinct subscribers."""
    prefix, pool = foreign_range(ctx, rng, country, prefix, lines)
    start = arrivals(rng, ctx.until_end(t0, hours), pool.region, calls_per_day / 24, business)
    n = len(start)
    calling = present(pool, rng.integers(0, len(pool), n), rng, (0.7, 0.3, 0.0), ctx.intl)
    out = batch(rng, start, calling, ctx.callees(rng, n), np.full(n, trunk, dtype=object),
                answer_rate=0.4, median_s=150.0, sigma=0.8, scenario="foreign_call_centre",
                campaign=cid)
    return out, {"prefix": prefix, "country": pool.region, "lines": len(pool)}


def forwarding_transit(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                       hours: float | None = None, forwarded_per_hour: float = 15.0,
                       forwarded_abroad: float = 0.3, forward_country: str = "CH",
                       transit_per_hour: float = 10.0, transit_trunk: str = INTL_TRUNKS[2]
                       ) -> Result:
    """Home callers the network legitimately hands over in an unusual way.

    Forwarded (component 'forwarded'): a home caller rang a number that forwards to our
    subscriber; `network_number` is the forwarding line. Most forward inside the country
    (national trunks); `forwarded_abroad` of them ring a foreign line (a cross-border
    worker's `forward_country` mobile) and come back on an international trunk.
    Transit (component 'transit'): home-to-home calls a carrier routed abroad, arriving on
    `transit_trunk` with a verified signature (TN-Validation-Passed, attestation A) and no
    roaming flag. The detectors' domestic-from-abroad rule does not read attestation; these
    calls measure what that costs.
    """
    span = ctx.until_end(t0, hours)
    fwd = arrivals(rng, span, ctx.home, forwarded_per_hour)
    n = len(fwd)
    abroad = rng.random(n) < forwarded_abroad
    lines = build_pool(ctx.home, "mobile", 2000, ctx.seed + 2)
    foreign = build_pool(forward_country, "mobile", 200, ctx.seed)
    network = np.where(abroad, foreign.e164[rng.integers(0, len(foreign), n)],
                       lines.e164[rng.integers(0, len(lines), n)])
    trunk = np.where(abroad, pick(rng, INTL_TRUNKS, n), pick(rng, (MOB_TRUNK, *NAT_TRUNKS), n))
    forwarded = batch(rng, fwd, _home_callers(ctx, rng, n), ctx.callees(rng, n), trunk,
                      answer_rate=0.6, median_s=90.0, scenario="forwarding_transit",
                      campaign=cid, component="forwarded")
    forwarded.network = network
    via = arrivals(rng, span, ctx.home, transit_per_hour)
    m = len(via)
    transit = batch(rng, via, _home_callers(ctx, rng, m), ctx.callees(rng, m),
                    np.full(m, transit_trunk, dtype=object), answer_rate=0.7, median_s=100.0,
                    scenario="forwarding_transit", campaign=cid, component="transit")
    transit.verstat = np.full(m, "TN-Validation-Passed", dtype=object)
    transit.attestation = np.full(m, "A", dtype=object)
    return Calls.concat([forwarded, transit]), {"forwarded": n, "transit": m}


def _home_callers(ctx: Context, rng: np.random.Generator, n: int) -> np.ndarray:
    """Home mobile and fixed caller IDs in E.164 or "00" form, as a transit carrier logs them."""
    mobile = rng.random(n) < 0.7
    m = present(ctx.mobiles, rng.integers(0, len(ctx.mobiles), n), rng, (0.8, 0.2, 0.0),
                ctx.intl)
    f = present(ctx.fixed, rng.integers(0, len(ctx.fixed), n), rng, (0.8, 0.2, 0.0), ctx.intl)
    return np.where(mobile, m, f)


def holiday_surge(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                  factor: float = 3.0, hours: float = 2.5, countries: str | None = None
                  ) -> Result:
    """A holiday evening: every diaspora country calls home at `factor` times its usual rate
    for `hours`, all at once; the extra calls come from the same people as on other days."""
    weights = diaspora(ctx.home)
    chosen = as_list(countries) if countries else sorted(weights)
    total = sum(weights.values())
    per_hour = ctx.intl_per_hour * (1 - ROAMER_SHARE) * (factor - 1)
    span = ctx.until_end(t0, hours)
    parts = []
    for region in chosen:
        start = arrivals(rng, span, region, per_hour * weights.get(region, 1.0) / total,
                         activity)
        n = len(start)
        parts.append(batch(rng, start, callers_abroad(ctx, rng, region, n), ctx.callees(rng, n),
                           pick(rng, INTL_TRUNKS, n), answer_rate=0.75, median_s=400.0,
                           scenario="holiday_surge", campaign=cid))
    return Calls.concat(parts), {"countries": "/".join(chosen)}
