"""Traps on what a caller ID looks like: valid yet unusual numbers, and a trunk that does not
screen its caller IDs at all. Both are legitimate calls (labelled `fraud: false`).

Every number is picked with libphonenumber's metadata here (streams/traffic/numbers.py), never
with the detector's own reading of presented numbers, so the labels cannot share its mistakes.
"""

from __future__ import annotations

import numpy as np

from streams.traffic.calls import MOB_TRUNK, NAT_TRUNKS, UNSCREENED_TRUNK, Context, batch, pick
from streams.traffic.normal import arrivals
from streams.traffic.numbers import Pool, build_pool, has_kind, is_dialable_invalid, short_codes
from streams.traffic.spoofing import Result, as_list

# Classes the generator's own field stories say never place calls: CN's "400" numbers are
# its shared-cost class (DESIGN.md, the consumer-finance hotline).
_NEVER_CALL = {"CN": {"shared_cost"}}
_KINDS = "voip/shared_cost/personal_number/uan"
ANONYMISED = ("anonymous", "Anonymous", "restricted", "unavailable", "private", "")


def valid_short_numbers(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                        hours: float | None = None, calls_per_hour: float = 12.0,
                        short_share: float = 0.5, codes: int = 20, kinds: str = _KINDS
                        ) -> Result:
    """Service lines calling subscribers on the national trunks: short codes the home plan
    assigns, and national-format numbers of the rarer valid classes (VoIP, shared-cost,
    personal, UAN; toll-free only when asked, since the policy flags it by design)."""
    start = arrivals(rng, ctx.until_end(t0, hours), ctx.home, calls_per_hour)
    n = len(start)
    short = np.array(short_codes(ctx.home, codes, ctx.seed), dtype=object)
    usable = [k for k in as_list(kinds)
              if has_kind(ctx.home, k) and k not in _NEVER_CALL.get(ctx.home, set())]
    pools = [build_pool(ctx.home, k, 200, ctx.seed) for k in usable]
    national = np.concatenate([p.national for p in pools]) if pools else short
    is_short = (rng.random(n) < short_share) if pools else np.ones(n, dtype=bool)
    calling = np.where(is_short, short[rng.integers(0, len(short), n)],
                       national[rng.integers(0, len(national), n)])
    out = batch(rng, start, calling, ctx.callees(rng, n),
                pick(rng, (*NAT_TRUNKS, MOB_TRUNK), n), answer_rate=0.5, median_s=60.0,
                scenario="valid_short_numbers", campaign=cid)
    return out, {"short_codes": "/".join(short.tolist()), "kinds": "/".join(usable)}


def _invalid_abroad(pools: list[Pool], rng: np.random.Generator, n: int, intl: str) -> list[str]:
    """Foreign numbers cut short or run on, kept only when their plan rejects them."""
    found: list[str] = []
    while len(found) < n:
        pool = pools[int(rng.integers(len(pools)))]
        num = str(pool.e164[rng.integers(len(pool))])
        num = (num[: -int(rng.integers(2, 4))] if rng.random() < 0.5
               else num + str(int(rng.integers(10, 100))))
        if is_dialable_invalid(num):
            found.append(num if rng.random() < 0.5 else intl + num[1:])
    return found


def unscreened_trunk(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                     trunk: str = UNSCREENED_TRUNK, hours: float | None = None,
                     calls_per_hour: float = 30.0, anonymised: float = 0.4,
                     invalid: float = 0.4, countries: str = "GB/US/DE/FR/RO/IN/NG/BR",
                     callers: int = 200) -> Result:
    """A wholesale carrier that passes caller IDs on unscreened: most are anonymised or not
    valid numbers (cut short, run on), the rest real foreign numbers. The calls are genuine."""
    start = arrivals(rng, ctx.until_end(t0, hours), ctx.home, calls_per_hour)
    n = len(start)
    regions = [c for c in as_list(countries) if c.upper() != ctx.home.upper()]
    pools = [build_pool(r, "mobile", 200, ctx.seed) for r in regions]
    bad = np.array(_invalid_abroad(pools, rng, callers, ctx.intl), dtype=object)
    every = np.concatenate([p.e164 for p in pools])
    good = present_foreign(every, rng, n, ctx.intl)
    kind = rng.choice(3, size=n, p=[anonymised, invalid, 1 - anonymised - invalid])
    calling = np.where(kind == 0, pick(rng, ANONYMISED, n),
                       np.where(kind == 1, bad[rng.integers(0, len(bad), n)], good))
    out = batch(rng, start, calling, ctx.callees(rng, n), np.full(n, trunk, dtype=object),
                answer_rate=0.55, median_s=140.0, scenario="unscreened_trunk", campaign=cid)
    return out, {"trunk": trunk}


def present_foreign(e164: np.ndarray, rng: np.random.Generator, n: int, intl: str) -> np.ndarray:
    """n of these numbers, half "+CC...", half "00CC..."."""
    picked = e164[rng.integers(0, len(e164), n)]
    return np.where(rng.random(n) < 0.5, picked,
                    np.array([intl + x[1:] for x in picked.tolist()], dtype=object))
