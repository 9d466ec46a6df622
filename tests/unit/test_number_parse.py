"""The plain-form parser reads exactly what phonenumbers.parse reads, or leaves it to it."""

from __future__ import annotations

import random

import phonenumbers
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from streams.number_parse import fast_parse
from streams.numbering import classify

CODES = sorted(COUNTRY_CODE_TO_REGION_CODE)
# Home plans with different rules: no national prefix (IT, with its leading zeros kept),
# "0" (GB, DE, FR, CN), "1" and "011" (US), carrier codes (BR, AR, MX), shared codes (VA).
HOMES = ("IT", "GB", "DE", "FR", "CN", "US", "BR", "AR", "MX", "JP", "RU", "VA", "AU", "IN")


def parse(text: str, home: str) -> tuple[int, str] | None:
    try:
        number = phonenumbers.parse(text, home)
    except phonenumbers.NumberParseException:
        return None
    return number.country_code, phonenumbers.national_significant_number(number)


def _idd(home: str) -> str:
    meta = phonenumbers.PhoneMetadata.metadata_for_region(home)
    return meta.preferred_international_prefix or meta.international_prefix or "00"


def _texts(rng: random.Random, home: str) -> list[str]:
    """Every country code with a random national part of 0-16 digits, as "+", through the
    home plan's international prefix, and as bare digits; the home plan's own numbers with
    and without national prefix and home country code; example numbers of every region."""
    out = []
    idd = _idd(home)
    home_cc = str(phonenumbers.country_code_for_region(home))
    for cc in CODES:
        for _ in range(6):
            rest = "".join(rng.choice("0123456789") for _ in range(rng.randint(0, 16)))
            out += [f"+{cc}{rest}", f"{idd}{cc}{rest}", f"{cc}{rest}", f"+0{cc}{rest}"]
    for _ in range(600):
        rest = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 14)))
        out += [rest, f"0{rest}", f"00{rest}", f"{home_cc}{rest}", f"{idd}0{rest}"]
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        ex = phonenumbers.example_number(region)
        if ex is not None:
            nsn = phonenumbers.national_significant_number(ex)
            out += [f"+{ex.country_code}{nsn}", f"+{ex.country_code}0{nsn}",
                    phonenumbers.format_number(ex, phonenumbers.PhoneNumberFormat.NATIONAL)
                    .replace(" ", "").replace("-", "")]
    return out


def test_fast_parse_agrees_with_phonenumbers_on_every_code_and_several_home_plans() -> None:
    rng = random.Random(5)
    taken = total = 0
    for home in HOMES:
        for text in _texts(rng, home):
            fast = fast_parse(text, home)
            total += 1
            if fast is not None:
                taken += 1
                assert fast == parse(text, home), (text, home)
    # Plain digits are nearly all of the corpus: a parser that always deferred is no test.
    assert taken > total // 3


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet="+0123456789 -()./", min_size=0, max_size=24),
       home=st.sampled_from(HOMES))
def test_whatever_it_takes_it_reads_as_phonenumbers_does(text: str, home: str) -> None:
    fast = fast_parse(text, home)
    if fast is not None:
        assert fast == parse(text, home)


def test_forms_it_leaves_to_phonenumbers() -> None:
    assert fast_parse("+39 320 123 4567", "IT") is None  # punctuation
    assert fast_parse("02079460000", "GB") is None  # a national prefix to strip
    assert fast_parse("393201234567", "IT") is None  # starts with the home country code
    assert fast_parse("+0393201234567", "IT") is None  # no country code starts with 0
    assert fast_parse("+٣٩٣٢٠١٢٣٤٥٦٧", "IT") is None  # non-ASCII digits
    assert fast_parse("+393201234567", "IT") == (39, "3201234567")
    assert fast_parse("00442079460000", "IT") == (44, "2079460000")
    assert fast_parse("0612345678", "IT") == (39, "0612345678")  # Italy keeps its zero


def test_classification_is_the_same_with_and_without_the_fast_path(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(9)
    texts = _texts(rng, "IT")[::7]
    fast = [classify.__wrapped__(t, "IT") for t in texts]
    monkeypatch.setattr("streams.number_parse.fast_parse", lambda text, home: None)
    slow = [classify.__wrapped__(t, "IT") for t in texts]
    assert fast == slow
