"""Pools of valid numbers, built once per (region, kind, size, seed) with libphonenumber.

The hot loop only indexes these arrays; it never parses or validates a number.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import phonenumbers
from phonenumbers import PhoneNumberType as T
from phonenumbers import shortnumberinfo
from phonenumbers import timezone as pn_timezone

KINDS: dict[str, tuple[int, ...]] = {
    "mobile": (T.MOBILE, T.FIXED_LINE_OR_MOBILE),
    "fixed": (T.FIXED_LINE, T.FIXED_LINE_OR_MOBILE),
    # number classes that place calls less often, yet validly (streams/traffic/screening.py)
    "voip": (T.VOIP,),
    "shared_cost": (T.SHARED_COST,),
    "personal_number": (T.PERSONAL_NUMBER,),
    "uan": (T.UAN,),
    "toll_free": (T.TOLL_FREE,),
}
_EXAMPLE_TYPE = {kind: types[0] for kind, types in KINDS.items()}


@dataclass(frozen=True)
class Pool:
    """Valid numbers of one region and kind: E.164 and national dialling forms, same order."""

    region: str
    country_code: int
    e164: np.ndarray  # object array of "+CCNSN"
    national: np.ndarray  # object array of national digits (trunk prefix included)

    def __len__(self) -> int:
        return len(self.e164)


def sub_rng(seed: int, *names: str) -> np.random.Generator:
    """An independent stream per component, so adding a campaign never shifts normal traffic."""
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def to_number(cc: int, nsn: str) -> phonenumbers.PhoneNumber:
    zeros = len(nsn) - len(nsn.lstrip("0"))
    return phonenumbers.PhoneNumber(
        country_code=cc,
        national_number=int(nsn) if nsn.strip("0") else 0,
        italian_leading_zero=True if zeros else None,
        number_of_leading_zeros=zeros if zeros > 1 else None,
    )


def is_valid(cc: int, nsn: str, region: str, types: tuple[int, ...] | None = None) -> bool:
    """Valid for exactly `region` (shared codes like +1 or +44 count per region)."""
    num = to_number(cc, nsn)
    if phonenumbers.region_code_for_number(num) != region:
        return False
    if types is None:
        return phonenumbers.is_valid_number(num)
    return phonenumbers.number_type(num) in types and phonenumbers.is_valid_number(num)


def is_dialable_invalid(e164: str) -> bool:
    """A number of a known country code and possible shape that its plan does not assign."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return not phonenumbers.is_valid_number(number)


def national_form(cc: int, nsn: str) -> str:
    text = phonenumbers.format_number(to_number(cc, nsn), phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(ch for ch in text if ch.isdigit())


def _fill(
    rng: np.random.Generator, region: str, cc: int, prefix: str, length: int,
    types: tuple[int, ...] | None, size: int, max_tries: int,
) -> list[str]:
    """Random tails after `prefix`, keeping unique numbers libphonenumber accepts."""
    tail = length - len(prefix)
    found: dict[str, None] = {}
    tries = 0
    while len(found) < size and tries < max_tries:
        batch = rng.integers(0, 10**tail, size=max(64, 2 * (size - len(found))))
        tries += len(batch)
        for x in batch.tolist():
            nsn = prefix + str(x).zfill(tail)
            if nsn not in found and is_valid(cc, nsn, region, types):
                found[nsn] = None
                if len(found) == size:
                    break
    return list(found)


@lru_cache(maxsize=256)
def build_pool(region: str, kind: str, size: int, seed: int) -> Pool:
    """Vary the trailing digits of the region's example number; keep the shortest prefix
    that still yields mostly valid numbers, so the pool spans many real ranges."""
    example = phonenumbers.example_number_for_type(region, _EXAMPLE_TYPE[kind])
    if example is None:
        raise ValueError(f"libphonenumber has no {kind} example for {region}")
    cc = example.country_code
    nsn0 = phonenumbers.national_significant_number(example)
    rng = sub_rng(seed, "pool", region, kind)
    types = KINDS[kind]
    keep = 1
    for keep in range(1, max(2, len(nsn0) - 3)):
        if len(_fill(rng, region, cc, nsn0[:keep], len(nsn0), types, 40, 160)) >= 40:
            break
    nsns = _fill(rng, region, cc, nsn0[:keep], len(nsn0), types, size, size * 40)
    if not nsns:
        raise ValueError(f"could not build {kind} numbers for {region}")
    return Pool(
        region=region,
        country_code=cc,
        e164=np.array([f"+{cc}{n}" for n in nsns], dtype=object),
        national=np.array([national_form(cc, n) for n in nsns], dtype=object),
    )


def has_kind(region: str, kind: str) -> bool:
    """Whether libphonenumber knows numbers of `kind` in `region` (IT has no UAN, CN no VoIP)."""
    return phonenumbers.example_number_for_type(region, _EXAMPLE_TYPE[kind]) is not None


@lru_cache(maxsize=32)
def short_codes(region: str, size: int, seed: int) -> tuple[str, ...]:
    """Short numbers the region's plan assigns (shortnumberinfo), neither emergency,
    premium-rate nor SMS-only: the service lines that may call a subscriber."""
    cc = phonenumbers.country_code_for_region(region)
    rng = sub_rng(seed, "short", region)
    found: dict[str, None] = {}
    for _ in range(200_000):
        digits = int(rng.integers(3, 7))
        code = str(int(rng.integers(0, 10**digits))).zfill(digits)
        num = to_number(cc, code)
        if (code not in found and shortnumberinfo.is_valid_short_number_for_region(num, region)
                and not shortnumberinfo.is_emergency_number(code, region)
                and not shortnumberinfo.is_sms_service_for_region(num, region)
                and shortnumberinfo.expected_cost_for_region(num, region)
                != shortnumberinfo.ShortNumberCost.PREMIUM_RATE):
            found[code] = None
            if len(found) == size:
                break
    return tuple(found)


def split_prefix(prefix: str) -> tuple[int, str, str]:
    """'+6391755' -> (63, 'PH', '91755'): country code, main region, national digits."""
    digits = prefix.lstrip("+")
    for n in (1, 2, 3):
        cc = int(digits[:n])
        region = phonenumbers.region_code_for_country_code(cc)
        if region not in ("ZZ", "001"):
            return cc, region, digits[n:]
    raise ValueError(f"no country code at the start of {prefix!r}")


@lru_cache(maxsize=128)
def range_pool(prefix: str, size: int, seed: int) -> Pool:
    """Valid numbers inside one block ('+6391755...'): what a campaign buys or spoofs."""
    cc, region, head = split_prefix(prefix)
    example = phonenumbers.example_number_for_type(region, T.MOBILE)
    length = len(phonenumbers.national_significant_number(example)) if example else 9
    rng = sub_rng(seed, "range", prefix)
    nsns = _fill(rng, region, cc, head, max(length, len(head) + 3), None, size, size * 60)
    if len(nsns) < min(size, 3):
        raise ValueError(f"number range {prefix} holds too few valid {region} numbers")
    return Pool(
        region=region,
        country_code=cc,
        e164=np.array([f"+{cc}{n}" for n in nsns], dtype=object),
        national=np.array([national_form(cc, n) for n in nsns], dtype=object),
    )


def present(
    pool: Pool, idx: np.ndarray, rng: np.random.Generator, probs: tuple[float, float, float],
    intl_prefix: str,
) -> np.ndarray:
    """Caller IDs as a switch logs them: probs of ('+CC...', '00CC...', national) forms."""
    form = rng.choice(3, size=len(idx), p=probs)
    e164 = pool.e164[idx]
    out = np.empty(len(idx), dtype=object)
    for i, (f, num, nat) in enumerate(zip(form.tolist(), e164.tolist(),
                                          pool.national[idx].tolist(), strict=True)):
        out[i] = num if f == 0 else (intl_prefix + num[1:] if f == 1 else nat)
    return out


@lru_cache(maxsize=64)
def region_zone(region: str) -> ZoneInfo:
    example = phonenumbers.example_number_for_type(region, T.FIXED_LINE) or \
        phonenumbers.example_number_for_type(region, T.MOBILE)
    names = [z for z in pn_timezone.time_zones_for_number(example) if "/" in z] if example else []
    return ZoneInfo(sorted(names)[-1] if names else "UTC")


def hourly_offsets(region: str, t0: float, hours: float) -> np.ndarray:
    """UTC offset (hours) of the region's local time for each hour from t0; DST-aware."""
    zone = region_zone(region)
    base = datetime.fromtimestamp(t0, UTC)
    out = []
    for k in range(int(np.ceil(hours)) + 1):
        off = (base + timedelta(hours=k)).astimezone(zone).utcoffset()
        out.append(off.total_seconds() / 3600 if off else 0.0)
    return np.array(out)


def intl_prefix(region: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    pref = (meta.preferred_international_prefix or meta.international_prefix) if meta else None
    return pref if pref and pref.isdigit() else "00"
