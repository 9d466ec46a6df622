"""Number normalisation and classification with libphonenumber (`phonenumbers`), cached."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import phonenumbers
from phonenumbers import PhoneNumberType as T

from streams import number_parse, number_types

Form = Literal["international", "national", "anonymous", "garbage"]
# How a trunk logs caller IDs that carry neither "+" nor the international prefix ("bare"
# digits); "+" and the international prefix ("00") mean international under every format.
# - "national": read in the home plan (what a switch dialling them would do).
# - "e164": country code first, as if a "+" stood before them; a leading 0 (no country
#   code starts with 0) is still read in the home plan.
# - "auto": international when the digits are neither a valid national number nor a short
#   code of the home plan (8 digits or fewer, or a short number) and are a valid number
#   with a "+" before them; national otherwise. Ambiguous by nature: digits valid both ways
#   stay national, and a mistyped national number that happens to spell a valid foreign
#   one is read as foreign.
NumberFormat = Literal["national", "e164", "auto"]
NUMBER_FORMATS: tuple[NumberFormat, ...] = ("national", "e164", "auto")

WITHHELD = frozenset({"anonymous", "restricted", "private", "unavailable", "unknown", "withheld"})
_DIAL = re.compile(r"^\+?[0-9][0-9 ().\-/]*$")
_KIND = {
    T.FIXED_LINE: "fixed",
    T.MOBILE: "mobile",
    T.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    T.TOLL_FREE: "toll_free",
    T.PREMIUM_RATE: "premium_rate",
    T.SHARED_COST: "shared_cost",
    T.VOIP: "voip",
    T.PERSONAL_NUMBER: "personal",
    T.PAGER: "pager",
    T.UAN: "uan",
    T.VOICEMAIL: "voicemail",
}


@dataclass(frozen=True, slots=True)
class Number:
    """What a raw number string is: its E.164 form, country, type and validity."""

    raw: str
    form: Form
    e164: str | None = None
    country_code: int | None = None
    nsn: str = ""
    kind: str = "unknown"
    valid: bool = False
    short_code: bool = False
    # Digits with neither "+" nor the international prefix: how they were read depended on
    # the trunk's number format.
    bare: bool = False

    @property
    def region(self) -> str | None:
        """ISO region of a valid number. Read on demand: no detector needs it, and telling
        apart the regions sharing a country code (+1, +7, +44) re-matches the number's
        patterns for each of them, an eighth of the cost of a number seen for the first time."""
        if not self.valid or self.e164 is None:
            return None
        region = phonenumbers.region_code_for_number(phonenumbers.parse(self.e164))
        return region if region not in (None, "ZZ", "001") else None

    @property
    def dialable(self) -> bool:
        return self.e164 is not None

    def range_key(self, digits: int) -> str:
        """Country code plus the first national digits: the number block a campaign uses."""
        return f"+{self.country_code}{self.nsn[:digits]}"

    @property
    def country_key(self) -> str:
        return f"+{self.country_code}"


def _intl_prefix(region: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
    if meta is None:
        return "00"
    return meta.preferred_international_prefix or meta.international_prefix or "00"


def _user_part(text: str) -> str:
    """The number inside a tel: or sip: URI (RFC 3966 / 3261), as IMS and SIP switches log
    the caller ("sip:+393201010086@ims.example;user=phone"); any other text as it is."""
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("tel", "sip", "sips"):
        return text
    return rest.split("@", 1)[0].split(";", 1)[0].strip()


@lru_cache(maxsize=1 << 18)
def classify(raw: str, home_region: str, full: bool = True,
             fmt: NumberFormat = "national") -> Number:
    """Normalise a presented number as a switch in `home_region` would read it.

    `full=False` stops at the E.164 form (no validity, type or region): enough for callees,
    and a third of the cost on numbers seen for the first time. `fmt` says how bare digits
    are read (`NumberFormat`); it is part of the cache key, and "national" is what every
    caller that does not name a format gets.
    """
    text = _user_part((raw or "").strip())
    if not text or text.lower() in WITHHELD:
        return Number(raw=raw, form="anonymous")
    if not _DIAL.match(text):
        return Number(raw=raw, form="garbage")
    digits = re.sub(r"[^0-9]", "", text)
    prefix = _intl_prefix(home_region)
    if text.startswith("+") or (digits.startswith(prefix) and prefix.isdigit()):
        return _read(raw, text, digits, home_region, "international", full)
    # No country code starts with 0: under "e164" a leading 0 is still a national number.
    if fmt == "e164" and not digits.startswith("0"):
        return _read(raw, "+" + text, digits, home_region, "international", full, bare=True)
    national = _read(raw, text, digits, home_region, "national", full or fmt == "auto",
                     bare=True)
    if fmt != "auto" or national.valid or national.short_code:
        return national
    international = _read(raw, "+" + text, digits, home_region, "international", True,
                          bare=True)
    return international if international.valid else national


def _read(raw: str, text: str, digits: str, home_region: str, form: Form, full: bool,
          bare: bool = False) -> Number:
    """`text` parsed in the home plan (a leading "+" makes it international)."""
    read = number_parse.fast_parse(text, home_region)
    if read is None:
        try:
            parsed = phonenumbers.parse(text, home_region)
        except phonenumbers.NumberParseException:
            return Number(raw=raw, form="garbage")
        read = parsed.country_code, phonenumbers.national_significant_number(parsed)
    code, nsn = read
    if not full:
        return Number(raw=raw, form=form, e164=f"+{code}{nsn}", country_code=code, nsn=nsn,
                      bare=bare)
    # number_type() is UNKNOWN exactly when is_valid_number() is false; one lookup, not two.
    ntype = number_types.number_type(code, nsn)
    valid = ntype != T.UNKNOWN
    short = False
    if not valid and form == "national":
        short = len(digits) <= 8 or phonenumbers.is_valid_short_number_for_region(
            phonenumbers.parse(text, home_region), home_region
        )
    return Number(
        raw=raw,
        form=form,
        e164=f"+{code}{nsn}",
        country_code=code,
        nsn=nsn,
        kind=_KIND.get(ntype, "unknown"),
        valid=valid,
        short_code=short,
        bare=bare,
    )


def read_caller(raw: str, home_region: str, fmt: NumberFormat) -> Number:
    """A caller (or network) number read in a trunk's format. "national" calls classify()
    exactly as every other reader does, so its cache entries are shared and it costs nothing
    more than before formats existed."""
    if fmt == "national":
        return classify(raw, home_region)
    return classify(raw, home_region, True, fmt)


def normalise(raw: str, home_region: str) -> str | None:
    """E.164 form of any presented format, or None for withheld / garbage."""
    return classify(raw, home_region).e164


@lru_cache(maxsize=64)
def home_country_code(home_region: str) -> int:
    return phonenumbers.country_code_for_region(home_region)


def check_region(region: str) -> str:
    """An ISO 3166 region libphonenumber knows, upper-cased; for settings validators."""
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown ISO region {region!r}")
    return region
