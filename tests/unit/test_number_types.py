"""The compiled number types give exactly libphonenumber's answer."""

from __future__ import annotations

import random

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType as T
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from streams import number_types

CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)


def _corpus(seed: int = 11) -> list[phonenumbers.PhoneNumber]:
    """Every region's example numbers of every type, each with its last digits changed and
    its length moved by one either way (valid, invalid and other-type neighbours), plus
    random digit strings under every country code."""
    rng = random.Random(seed)
    texts: list[str] = []
    for region in phonenumbers.SUPPORTED_REGIONS | {"001"}:
        for kind in range(12):
            if region == "001":
                examples = [phonenumbers.example_number_for_non_geo_entity(cc)
                            for cc in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS]
            else:
                examples = [phonenumbers.example_number_for_type(region, kind)]
            for ex in examples:
                if ex is None:
                    continue
                nsn = phonenumbers.national_significant_number(ex)
                for _ in range(8):
                    tail = "".join(rng.choice("0123456789") for _ in range(3))
                    cut = nsn[:-3] + tail
                    texts += [f"+{ex.country_code}{cut}", f"+{ex.country_code}{cut}5",
                              f"+{ex.country_code}{cut[:-1]}"]
    for _ in range(20_000):
        cc = rng.choice(CODES)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 14)))
        texts.append(f"+{cc}{digits}")
    out = []
    for text in texts:
        try:
            out.append(phonenumbers.parse(text, None))
        except phonenumbers.NumberParseException:
            continue
    return out


def test_the_compiled_types_match_libphonenumber_on_every_code_and_type() -> None:
    corpus = _corpus()
    kinds = set()
    for number in corpus:
        nsn = phonenumbers.national_significant_number(number)
        expected = phonenumbers.number_type(number)
        assert number_types.number_type(number.country_code, nsn) == expected, (number, expected)
        kinds.add(expected)
    # the corpus reaches every branch: unknown, each specific type, fixed / mobile / both
    assert {T.UNKNOWN, T.MOBILE, T.FIXED_LINE, T.FIXED_LINE_OR_MOBILE, T.TOLL_FREE,
            T.PREMIUM_RATE, T.VOIP, T.SHARED_COST, T.PERSONAL_NUMBER, T.UAN} <= kinds
    assert len(corpus) > 30_000


@settings(max_examples=2_000, deadline=None)
@given(st.sampled_from(CODES), st.text("0123456789", min_size=1, max_size=16),
       st.integers(0, 3))
def test_any_digits_under_any_code_type_as_libphonenumber_says(cc: int, digits: str,
                                                               zeros: int) -> None:
    number = phonenumbers.PhoneNumber(country_code=cc, national_number=int(digits))
    if zeros:  # Italian-style leading zeros kept in the national number
        number.italian_leading_zero, number.number_of_leading_zeros = True, zeros
    nsn = phonenumbers.national_significant_number(number)
    assert number_types.number_type(number.country_code, nsn) == phonenumbers.number_type(number)
