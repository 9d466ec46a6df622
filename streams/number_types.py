"""libphonenumber's `number_type`, with each region's patterns compiled once.

`phonenumbers.number_type` looks every pattern up again through its own regex cache for
each number (about 27 µs for a number seen for the first time, a sixth of the worker's cost
per call on traffic of new callers). This is the same decision, in the same order, on the
same metadata, read once per region: `tests/unit/test_number_types.py` checks it gives
exactly libphonenumber's answer on a corpus of numbers of every country code.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from phonenumbers import PhoneMetadata, PhoneNumberDesc
from phonenumbers import PhoneNumberType as T
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# The order libphonenumber tests the specific types in (_number_type_helper).
_ORDER = (
    ("premium_rate", T.PREMIUM_RATE), ("toll_free", T.TOLL_FREE),
    ("shared_cost", T.SHARED_COST), ("voip", T.VOIP),
    ("personal_number", T.PERSONAL_NUMBER), ("pager", T.PAGER), ("uan", T.UAN),
    ("voicemail", T.VOICEMAIL),
)

Desc = tuple[frozenset[int], Callable[[str], object]] | None


class _Table(NamedTuple):
    general: Desc
    specific: tuple[tuple[Desc, int], ...]
    fixed: Desc
    mobile: Desc
    same_fixed_and_mobile: bool
    leading: Callable[[str], object] | None  # a region sharing its code: its first digits


def _desc(desc: PhoneNumberDesc | None) -> Desc:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern).fullmatch


def _matches(desc: Desc, nsn: str) -> bool:
    if desc is None:
        return False
    lengths, full = desc
    if lengths and len(nsn) not in lengths:
        return False
    return full(nsn) is not None


_tables: dict[int, _Table] = {}  # id(metadata) -> its compiled table


def _table(meta: PhoneMetadata) -> _Table:
    table = _tables.get(id(meta))
    if table is None:
        table = _tables[id(meta)] = _Table(
            _desc(meta.general_desc),
            tuple((_desc(getattr(meta, name)), kind) for name, kind in _ORDER),
            _desc(meta.fixed_line), _desc(meta.mobile),
            bool(meta.same_mobile_and_fixed_line_pattern),
            re.compile(meta.leading_digits).match if meta.leading_digits else None,
        )
    return table


def _type_in(nsn: str, table: _Table) -> int:
    if not _matches(table.general, nsn):
        return T.UNKNOWN
    for desc, kind in table.specific:
        if _matches(desc, nsn):
            return kind
    if _matches(table.fixed, nsn):
        if table.same_fixed_and_mobile or _matches(table.mobile, nsn):
            return T.FIXED_LINE_OR_MOBILE
        return T.FIXED_LINE
    if not table.same_fixed_and_mobile and _matches(table.mobile, nsn):
        return T.MOBILE
    return T.UNKNOWN


def _region(nsn: str, regions: tuple[str, ...]) -> tuple[str | None, int | None]:
    """The region of a code several share (+1, +7, +44...), as libphonenumber picks it,
    and the number's type there when picking it took a full match."""
    for region in regions:
        meta = PhoneMetadata.metadata_for_region(region.upper(), None)
        if meta is None:
            continue
        table = _table(meta)
        if table.leading is not None:
            if table.leading(nsn):
                return region, None
        elif (kind := _type_in(nsn, table)) != T.UNKNOWN:
            return region, kind
    return None, None


def number_type(country_code: int, nsn: str) -> int:
    """`phonenumbers.number_type` of the number with this country code and national
    significant number."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None:
        return T.UNKNOWN
    region, kind = (regions[0], None) if len(regions) == 1 else _region(nsn, regions)
    if kind is not None:
        return kind
    meta = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return T.UNKNOWN if meta is None else _type_in(nsn, _table(meta))
