"""Per-trunk number formats: bare digits read as national, E.164 or by the plan (auto); a
trunk whose numbers fit another format is reported; a bad format is a one-line error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streams.detect.calls import enrich
from streams.detect.formats import FormatCheck, judge
from streams.events import CallEvent
from streams.numbering import NumberFormat, classify
from streams.policy import Policy, PolicyError, load_policy
from streams.settings import DEFAULT_POLICY
from tests.unit.clirun import cdrwatch, one_error_line

# (presented, format) -> (E.164, valid, form); home IT
READINGS: list[tuple[str, NumberFormat, str, bool, str]] = [
    # +63 917 551 2345 (PH mobile) as bare digits: a bogus Italian number in the home plan
    ("639175512345", "national", "+39639175512345", False, "national"),
    ("639175512345", "e164", "+639175512345", True, "international"),
    ("639175512345", "auto", "+639175512345", True, "international"),
    # +44 7911 123456 (GB mobile), +86 138 1234 5678 (CN mobile), +1 202 555 0123 (US)
    ("447911123456", "national", "+39447911123456", False, "national"),
    ("447911123456", "e164", "+447911123456", True, "international"),
    ("447911123456", "auto", "+447911123456", True, "international"),
    ("8613812345678", "e164", "+8613812345678", True, "international"),
    ("8613812345678", "auto", "+8613812345678", True, "international"),
    ("12025550123", "national", "+3912025550123", False, "national"),
    ("12025550123", "auto", "+12025550123", True, "international"),
    # a valid Italian mobile and fixed line stay national under auto
    ("3201234567", "national", "+393201234567", True, "national"),
    ("3201234567", "auto", "+393201234567", True, "national"),
    ("0612345678", "auto", "+390612345678", True, "national"),
    # e164 is strict: the Italian mobile becomes a (bogus) Belgian number...
    ("3201234567", "e164", "+3201234567", False, "international"),
    # ...but no country code starts with 0, so a fixed line stays national
    ("0612345678", "e164", "+390612345678", True, "national"),
    # the operator's short code is not re-read as Romanian (+40) under auto
    ("4010086", "auto", "+394010086", False, "national"),
    # the ambiguity of auto: +33 6 12 34 56 78 (FR mobile) spells a valid Italian number too
    ("33612345678", "auto", "+3933612345678", True, "national"),
    ("33612345678", "e164", "+33612345678", True, "international"),
    # "+" and "00" are international under every format
    ("00639175512345", "national", "+639175512345", True, "international"),
    ("+447911123456", "national", "+447911123456", True, "international"),
    ("0044 7911 123456", "e164", "+447911123456", True, "international"),
]


@pytest.mark.parametrize(("raw", "fmt", "e164", "valid", "form"), READINGS)
def test_bare_digits_are_read_in_the_trunks_format(raw: str, fmt: NumberFormat, e164: str,
                                                   valid: bool, form: str) -> None:
    number = classify(raw, "IT", True, fmt)
    assert (number.e164, number.valid, number.form) == (e164, valid, form)
    assert number.bare == (not raw.startswith(("+", "00")))


def _event(calling: str, trunk: str = "T1", i: int = 0) -> CallEvent:
    return CallEvent(record_id=f"r{trunk}{i}", start_time=datetime(2026, 11, 20, 9, tzinfo=UTC),
                     duration_s=10, answered=True, calling_number=calling,
                     called_number="3201112233", ingress_trunk=trunk)


def _policy(**number_format: object) -> Policy:
    return Policy.model_validate({"home_country": "IT", "number_format": number_format})


def test_the_trunk_format_decides_and_the_default_path_is_the_plain_cached_reading() -> None:
    policy = _policy(trunks={"CARRIER": "e164"})
    abroad = enrich(_event("639175512345", "CARRIER"), policy)
    home = enrich(_event("639175512345", "NAT-TIM-1"), policy)
    assert abroad.foreign_caller and abroad.caller.valid
    assert not home.foreign_caller and not home.caller.valid
    # national reads share the cache entry every other reader uses: no extra per-call work
    assert home.caller is classify("639175512345", "IT")
    assert enrich(_event("639175512345", "CARRIER"), _policy()).caller is home.caller
    assert _policy().all_national and not policy.all_national
    assert not _policy(default="auto").all_national


def test_the_bundled_default_policy_reads_bare_digits_nationally() -> None:
    formats = load_policy(DEFAULT_POLICY).number_format
    assert formats.default == "national" and formats.trunks == {}
    assert formats.check_calls == 100


@pytest.mark.parametrize(("text", "key"), [
    ('[number_format]\ndefault = "E.164"', "number_format.default"),
    ('[number_format.trunks]\n"CARRIER" = "international"', "number_format.trunks.CARRIER"),
])
def test_an_unknown_format_is_a_one_line_error_naming_the_key(tmp_path: Path, text: str,
                                                               key: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert f"key '{key}': Input should be 'national', 'e164' or 'auto'" in str(err.value)
    calls = tmp_path / "calls.jsonl"
    calls.write_text("")
    proc = cdrwatch("detect", str(calls), "--policy", str(path))
    assert proc.returncode == 2
    assert key in one_error_line(proc)


FOREIGN = ["639175512345", "447911123456", "8613812345678", "12025550123", "4915123456789",
           "40721234567", "61412345678", "5511912345678", "2348031234567", "919812345678"]
ITALIAN = ["3201234567", "3301234567", "3401234567", "3471234567", "3801234567", "3501234567",
           "3601234567", "3701234567", "3381234567", "3481234567"]


def _see_all(numbers: list[str], declared: NumberFormat) -> list:
    policy = _policy(check_calls=10, trunks={"T1": declared})
    check = FormatCheck(policy)
    return [check.see(enrich(_event(n, "T1", i), policy)) for i, n in enumerate(numbers)]


@pytest.mark.parametrize(("numbers", "declared", "better"), [
    (FOREIGN, "national", "e164"),                    # the field case
    (ITALIAN[:4] + FOREIGN[:6], "national", "e164"),  # national fits 40%, e164 60%
    (ITALIAN[:6] + FOREIGN[:4], "e164", "national"),  # a strict format beats auto
    (ITALIAN[:5] + FOREIGN[:4] + ["4010086"], "e164", "auto"),  # neither strict one fits half
    (FOREIGN, "e164", None),
    (ITALIAN, "national", None),
    (ITALIAN[:5] + FOREIGN[:5], "national", None),    # half is not "fewer than half"
    (FOREIGN, "auto", None),
])
def test_a_trunk_is_reported_once_when_its_numbers_fit_another_format(
        numbers: list[str], declared: NumberFormat, better: NumberFormat | None) -> None:
    seen = _see_all(numbers, declared)
    assert all(m is None for m in seen[:-1])
    misfit = seen[-1]
    assert (misfit.better if misfit else None) == better
    if misfit:
        assert (misfit.trunk, misfit.declared, misfit.calls) == ("T1", declared, 10)
        sentence = misfit.sentence()
        assert "'T1'" in sentence and f'= "{better}"' in sentence
        assert not any(n in sentence for n in numbers)  # numbers are personal data
    # judged once: the trunk's next calls are not looked at again
    assert _see_all(numbers + numbers, declared)[10:] == [None] * 10


def test_only_bare_digit_caller_ids_are_sampled() -> None:
    prefixed = ["+" + n for n in FOREIGN] + ["00" + n for n in FOREIGN] + ["anonymous"] * 5
    assert _see_all(prefixed + FOREIGN[:9], "national") == [None] * 34
    assert _see_all(prefixed + FOREIGN, "national")[-1].better == "e164"


def test_judge_needs_a_majority_elsewhere() -> None:
    def better(valid: dict[NumberFormat, int]) -> str | None:
        misfit = judge("T", "national", valid, 100, "IT")
        return "not reported" if misfit is None else misfit.better

    assert better({"national": 40, "e164": 50, "auto": 90}) == "auto"
    assert better({"national": 40, "e164": 51, "auto": 91}) == "e164"
    assert better({"national": 10, "e164": 20, "auto": 30}) is None  # no format fits
    assert better({"national": 10, "e164": 20, "auto": 50}) == "not reported"  # half does


def test_another_countrys_national_numbers_fit_no_format_and_say_so() -> None:
    """Chinese mobiles in national form on a feed judged with home_country IT: no reading
    makes them valid, and the report points at home_country, naming no number."""
    chinese = [f"138{n:08d}" for n in range(12345678, 12345688)]
    misfit = _see_all(chinese, "national")[-1]
    assert misfit is not None and misfit.better is None and misfit.fits["auto"] < 0.5
    sentence = misfit.sentence()
    assert "'T1'" in sentence and "home_country" in sentence and " IT " in sentence
    assert not any(n in sentence for n in chinese)
