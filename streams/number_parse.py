"""libphonenumber's `parse`, for the plain forms that are nearly all of a switch's records.

`phonenumbers.parse` runs its general normalisation (Unicode digits, punctuation, "tel:"
contexts, extensions, alpha characters) on every number: about 15 µs for a number seen for
the first time, two thirds of what classifying it costs. A CDR's number is almost always
plain digits, after a "+" or the home plan's international prefix or none. For those this
reads the country code and the national significant number with libphonenumber's own
metadata and rules, in its order; anything it is not sure of (punctuation, a national
prefix to strip, a national number starting with the home country code, lengths at the
limits, an unknown country code) it leaves to `phonenumbers.parse` by returning None.
`tests/unit/test_number_parse.py` checks it against `phonenumbers.parse` on a corpus of
every country code and several home plans.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import NamedTuple

from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# libphonenumber's bounds: a national significant number of 2 to 17 digits, a country code
# of at most 3.
_MIN_NSN, _MAX_NSN, _MAX_CC = 2, 17, 3

Matcher = Callable[[str], re.Match[str] | None]


class _Plan(NamedTuple):
    """What parsing needs of one numbering plan, compiled once."""

    country_code: int
    idd: Matcher | None  # the international prefix, matched at the start
    national_prefix: Matcher | None  # national_prefix_for_parsing, matched at the start


def _compile(pattern: str | None) -> Matcher | None:
    return re.compile(pattern).match if pattern else None


def _plan(meta: PhoneMetadata | None) -> _Plan | None:
    if meta is None:
        return None
    return _Plan(meta.country_code, _compile(meta.international_prefix),
                 _compile(meta.national_prefix_for_parsing))


@cache
def _home(region: str) -> _Plan | None:
    return _plan(PhoneMetadata.metadata_for_region(region.upper(), None))


@cache
def _plan_of(country_code: int, home_region: str) -> _Plan | None:
    """The plan parse reads a number of `country_code` in: the home plan when the code's
    main region is home, else the code's own."""
    region = COUNTRY_CODE_TO_REGION_CODE[country_code][0]
    if region == home_region.upper():
        return _home(home_region)
    return _plan(PhoneMetadata.metadata_for_region_or_calling_code(country_code, region))


def _country_code(full: str) -> tuple[int, str] | None:
    """libphonenumber's _extract_country_code: the shortest known code the digits start with."""
    if len(full) <= _MIN_NSN or full[0] == "0":
        return None
    for size in range(1, _MAX_CC + 1):
        code = int(full[:size])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            return code, full[size:]
    return None


def fast_parse(text: str, home_region: str) -> tuple[int, str] | None:
    """(country code, national significant number) exactly as `phonenumbers.parse(text,
    home_region)` gives them, or None where only parse itself can tell."""
    plus = text.startswith("+")
    digits = text[1:] if plus else text
    if not (3 <= len(digits) <= 20 and digits.isascii() and digits.isdigit()):
        return None
    home = _home(home_region)
    if home is None:
        return None
    if not plus:
        idd = home.idd(digits) if home.idd is not None else None
        if idd is None:
            if digits.startswith(str(home.country_code)):
                return None  # parse may read the home country code off the front
            return _checked(home.country_code, digits, home.national_prefix)
        digits = digits[idd.end():]
        if not digits or digits[0] == "0":
            return None  # an international prefix followed by 0 is not one to parse
    found = _country_code(digits)
    if found is None:
        return None
    code, nsn = found
    plan = _plan_of(code, home_region)
    return None if plan is None else _checked(code, nsn, plan.national_prefix)


def _checked(code: int, nsn: str, national_prefix: Matcher | None) -> tuple[int, str] | None:
    if national_prefix is not None and national_prefix(nsn):
        return None  # parse strips a national prefix or carrier code, length permitting
    if not _MIN_NSN <= len(nsn) <= _MAX_NSN:
        return None
    return code, nsn
