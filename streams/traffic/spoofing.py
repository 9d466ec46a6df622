"""Caller-ID spoofing campaigns: a caller ID that could not have come from where it did.

Each scenario is `fn(ctx, rng, t0, cid, **params) -> (Calls, resolved_params)`; keyword
defaults are the documented parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import phonenumbers

from streams.traffic.calls import INTL_TRUNKS, NAT_TRUNKS, Calls, Context, batch, pick
from streams.traffic.numbers import is_dialable_invalid, is_valid, present

Result = tuple[Calls, dict[str, Any]]

# The field stories: the IT operator's customer service (short code and mobile-format
# number) and the CN consumer-finance hotline, in the formats switches log them.
PROTECTED: dict[str, tuple[str, ...]] = {
    "IT": ("4010086", "+394010086", "3201010086", "+393201010086", "00393201010086"),
    "CN": ("00864006816666", "00864006816666", "+864006816666", "4006816666"),
}
HOTLINE = {"IT": "4010086", "CN": "4006816666"}


def times(rng: np.random.Generator, t0: float, minutes: float, n: int) -> np.ndarray:
    return np.sort(t0 + rng.random(n) * minutes * 60)


def as_list(value: str | list[str] | tuple[str, ...]) -> list[str]:
    """CLI lists come as 'a/b/c' strings; Python callers may pass a list."""
    return [v for v in value.split("/") if v] if isinstance(value, str) else list(value)


def default_protected(home: str) -> tuple[str, ...]:
    if home in PROTECTED:
        return PROTECTED[home]
    ex = phonenumbers.example_number_for_type(home, phonenumbers.PhoneNumberType.TOLL_FREE)
    if ex is None:
        raise ValueError(f"no protected numbers known for {home}; pass numbers=...")
    e164 = phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.E164)
    return (e164, phonenumbers.national_significant_number(ex))


def protected_spoof(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                    calls: int = 120, minutes: float = 45.0, numbers: str | None = None,
                    answer_rate: float = 0.55) -> Result:
    """The operator's own customer-service numbers presented on international trunks."""
    presented = as_list(numbers) if numbers else list(default_protected(ctx.home))
    start = times(rng, t0, minutes, calls)
    out = batch(rng, start, pick(rng, presented, calls), ctx.callees(rng, calls, distinct=True),
                pick(rng, INTL_TRUNKS, calls), answer_rate=answer_rate, median_s=240.0,
                scenario="protected_spoof", campaign=cid)
    return out, {"numbers": "/".join(dict.fromkeys(presented))}


def domestic_from_abroad(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                         calls: int = 150, minutes: float = 60.0,
                         mobile_share: float = 0.7) -> Result:
    """Random valid home caller IDs on international trunks, not roaming."""
    start = times(rng, t0, minutes, calls)
    mobile = rng.random(calls) < mobile_share
    forms = (0.4, 0.2, 0.4)
    m = present(ctx.mobiles, rng.integers(0, len(ctx.mobiles), calls), rng, forms, ctx.intl)
    f = present(ctx.fixed, rng.integers(0, len(ctx.fixed), calls), rng, forms, ctx.intl)
    roaming = np.where(rng.random(calls) < 0.5, False, None)
    out = batch(rng, start, np.where(mobile, m, f), ctx.callees(rng, calls, distinct=True),
                pick(rng, INTL_TRUNKS, calls), answer_rate=0.5, median_s=150.0,
                scenario="domestic_from_abroad", campaign=cid, roaming=roaming)
    return out, {}


def _invalid(ctx: Context, rng: np.random.Generator, n: int) -> list[str]:
    """Mutations of real numbers (truncated, lengthened, wrong leading digit) that the
    numbering plan (libphonenumber's metadata, read here on the E.164 form the mutation
    built) says are not valid: the label comes from the plan, never from the detector's
    own reader of presented numbers."""
    found: list[str] = []
    while len(found) < n:
        num = str(ctx.mobiles.e164[rng.integers(len(ctx.mobiles))])
        how = int(rng.integers(3))
        if how == 0:
            num = num[: -int(rng.integers(2, 4))]
        elif how == 1:
            num = num + "".join(str(d) for d in rng.integers(0, 10, 2))
        else:
            cc = str(ctx.subscribers.country_code)
            num = f"+{cc}{rng.integers(0, 10)}{num[len(cc) + 2:]}"
        raw = num if rng.random() < 0.5 else ctx.intl + num[1:]
        if is_dialable_invalid(num):
            found.append(raw)
    return found


def invalid_caller(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                   calls: int = 80, minutes: float = 60.0, callers: int = 25) -> Result:
    """Caller IDs libphonenumber says are not valid numbers of their plan."""
    pool = np.array(_invalid(ctx, rng, callers), dtype=object)
    start = times(rng, t0, minutes, calls)
    trunk = pick(rng, (*INTL_TRUNKS, *NAT_TRUNKS), calls, [0.25, 0.25, 0.2, 0.15, 0.15])
    out = batch(rng, start, pool[rng.integers(0, len(pool), calls)],
                ctx.callees(rng, calls, distinct=True), trunk, answer_rate=0.4, median_s=90.0,
                scenario="invalid_caller", campaign=cid)
    return out, {}


def stir_failed(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                calls: int = 100, minutes: float = 45.0, trunk: str = "NAT-VODAFONE-1") -> Result:
    """Calls whose STIR/SHAKEN signature failed verification (verstat TN-Validation-Failed)."""
    start = times(rng, t0, minutes, calls)
    calling = present(ctx.mobiles, rng.integers(0, len(ctx.mobiles), calls), rng,
                      (0.6, 0.1, 0.3), ctx.intl)
    out = batch(rng, start, calling, ctx.callees(rng, calls, distinct=True),
                np.full(calls, trunk, dtype=object), answer_rate=0.5, median_s=120.0,
                scenario="stir_failed", campaign=cid)
    out.verstat = np.full(calls, "TN-Validation-Failed", dtype=object)
    att = pick(rng, ("", "B", "C"), calls, [0.5, 0.2, 0.3])
    att[att == ""] = None
    out.attestation = att
    return out, {}


def neighbour_spoof(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                    calls: int = 200, minutes: float = 60.0, prefix_digits: int = 6,
                    trunk: str = "NAT-VODAFONE-1") -> Result:
    """Each callee sees a valid caller ID sharing its own leading digits ("a local number")."""
    pool = ctx.subscribers
    idx = rng.choice(len(pool), size=calls, replace=False)
    cc = pool.country_code
    calling = np.empty(calls, dtype=object)
    for i, j in enumerate(idx.tolist()):
        nsn = str(pool.e164[j])[len(str(cc)) + 1:]
        head, tail = nsn[:prefix_digits], len(nsn) - prefix_digits
        for _ in range(50):
            cand = head + str(rng.integers(0, 10**tail)).zfill(tail)
            if cand != nsn and is_valid(cc, cand, ctx.home):
                break
        calling[i] = f"+{cc}{cand}" if rng.random() < 0.5 else str(pool.national[j])[
            : len(str(pool.national[j])) - len(nsn)] + cand
    called = np.where(rng.random(calls) < 0.6, pool.national[idx], pool.e164[idx])
    out = batch(rng, times(rng, t0, minutes, calls), calling, called,
                np.full(calls, trunk, dtype=object), answer_rate=0.45, median_s=60.0,
                scenario="neighbour_spoof", campaign=cid)
    return out, {}


def hotline_lookalike(ctx: Context, rng: np.random.Generator, t0: float, cid: str, *,
                      calls: int = 200, minutes: float = 90.0, hotline: str | None = None,
                      callers: int = 5) -> Result:
    """The CN field story: overseas rings calling from fake "00..." customer-service numbers
    built around the official hotline (00 400 681 6666, 00852 400 681 6666, ...)."""
    line = hotline or HOTLINE.get(ctx.home) or default_protected(ctx.home)[-1]
    digits = "".join(ch for ch in line if ch.isdigit())
    ccs = ("", "852", "886", "63", "855", "95", "856", "60")
    fakes = np.array([f"{ctx.intl}{c}{digits}" for c in ccs[:max(1, callers)]], dtype=object)
    start = times(rng, t0, minutes, calls)
    out = batch(rng, start, fakes[rng.integers(0, len(fakes), calls)],
                ctx.callees(rng, calls, distinct=True), pick(rng, INTL_TRUNKS, calls),
                answer_rate=0.5, median_s=300.0, scenario="hotline_lookalike", campaign=cid)
    return out, {"hotline": digits, "numbers": "/".join(fakes.tolist())}
