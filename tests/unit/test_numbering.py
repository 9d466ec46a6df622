"""Number normalisation: every format of one number reads as the same E.164."""

from __future__ import annotations

import pytest

from streams.numbering import classify, normalise


@pytest.mark.parametrize("raw", ["3201010086", "+393201010086", "00393201010086",
                                 "0039 320 101 0086", "+39 (320) 101-0086",
                                 "tel:+393201010086",  # RFC 3966, as IMS switches log it
                                 "sip:+393201010086@ims.example.net;user=phone",
                                 "SIPS:3201010086@10.0.0.1"])
def test_formats_of_one_italian_mobile_number_normalise_alike(raw: str) -> None:
    number = classify(raw, "IT")
    assert number.e164 == "+393201010086"
    assert (number.region, number.kind, number.valid) == ("IT", "mobile", True)


@pytest.mark.parametrize(("raw", "region", "e164", "form", "kind", "valid", "short"), [
    ("4010086", "IT", "+394010086", "national", "unknown", False, True),
    ("0612345678", "IT", "+390612345678", "national", "fixed", True, False),
    ("800123456", "IT", "+39800123456", "national", "toll_free", True, False),
    ("899123456", "IT", "+39899123456", "national", "premium_rate", True, False),
    ("00639175512345", "IT", "+639175512345", "international", "mobile", True, False),
    ("4006816666", "CN", "+864006816666", "national", "shared_cost", True, False),
    ("008641006816666", "CN", "+8641006816666", "international", "unknown", False, False),
])
def test_classification_table(raw: str, region: str, e164: str, form: str, kind: str,
                              valid: bool, short: bool) -> None:
    n = classify(raw, region)
    assert (n.e164, n.form, n.kind, n.valid, n.short_code) == (e164, form, kind, valid, short)


@pytest.mark.parametrize("raw", ["anonymous", "Restricted", "", "   ", "unavailable",
                                 "sip:anonymous@anonymous.invalid"])
def test_withheld_caller_ids_are_anonymous_not_garbage(raw: str) -> None:
    assert classify(raw, "IT").form == "anonymous"
    assert normalise(raw, "IT") is None


@pytest.mark.parametrize("raw", ["abc", "39320*1010", "+", "<script>", "sip:alice@example.com",
                                 "http:+393201010086"])
def test_garbage_is_not_dialable(raw: str) -> None:
    n = classify(raw, "IT")
    assert n.form == "garbage" and not n.dialable


def test_range_and_country_keys() -> None:
    n = classify("00639175512345", "IT")
    assert n.range_key(5) == "+6391755"
    assert n.country_key == "+63"


def test_us_home_reads_011_as_the_international_prefix() -> None:
    assert classify("011393201010086", "US").e164 == "+393201010086"
