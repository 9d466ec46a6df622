"""Per-call spoofing rules as input -> expected verdict tables."""

from __future__ import annotations

import pytest

from streams.detect.calls import enrich
from streams.detect.spoofing import verdicts
from streams.policy import Policy, load_policy
from streams.settings import DEFAULT_POLICY
from tests.unit.factories import cdr, policy

P = policy()


def rules_for(pol: Policy = P, **fields: object) -> list[str]:
    found, _ = verdicts(enrich(cdr(**fields), pol), pol)
    return sorted(v.rule for v in found)


@pytest.mark.parametrize("caller", ["4010086", "+394010086", "3201010086", "+393201010086",
                                    "00393201010086", "0039 320 1010086", "+39409123"])
def test_protected_number_in_any_format_is_flagged_once(caller: str) -> None:
    assert rules_for(calling_number=caller) == ["spoof_protected"]


def test_protected_number_is_flagged_on_a_national_trunk_too() -> None:
    assert rules_for(calling_number="4010086", ingress_trunk="NAT-TIM-1") == ["spoof_protected"]


@pytest.mark.parametrize(("fields", "expected"), [
    ({"calling_number": "0612345678"}, ["spoof_domestic_from_abroad"]),
    ({"calling_number": "3471234567", "calling_roaming": False}, ["spoof_domestic_from_abroad"]),
    ({"calling_number": "3471234567"}, ["spoof_unverified_roaming"]),
    ({"calling_number": "3471234567", "calling_roaming": True}, []),
    ({"calling_number": "0612345678", "ingress_trunk": "NAT-TIM-1"}, []),
    ({"calling_number": "0612345678", "ingress_trunk": "X", "ingress_kind": "international"},
     ["spoof_domestic_from_abroad"]),
    ({"calling_number": "+447911123456"}, []),
])
def test_home_caller_id_on_international_ingress(fields: dict, expected: list[str]) -> None:
    assert rules_for(**fields) == expected


@pytest.mark.parametrize(("caller", "trunk", "expected"), [
    ("+447700900123", "INTL-BICS-1", ["spoof_invalid_caller"]),   # Ofcom drama range
    ("+1555123456", "INTL-BICS-1", ["spoof_invalid_caller"]),     # wrong length
    ("garbage!", "INTL-BICS-1", ["spoof_invalid_caller"]),
    ("12345", "INTL-BICS-1", ["spoof_invalid_caller"]),           # short code from abroad
    ("12345", "NAT-TIM-1", []),                                    # short code at home
    ("899123456", "NAT-TIM-1", ["spoof_invalid_caller"]),          # premium rate
    ("800123456", "NAT-TIM-1", ["spoof_invalid_caller"]),          # toll free
    ("anonymous", "INTL-BICS-1", []),
    ("", "NAT-TIM-1", []),
])
def test_invalid_caller_ids(caller: str, trunk: str, expected: list[str]) -> None:
    assert rules_for(calling_number=caller, ingress_trunk=trunk) == expected


def test_failed_stir_shaken_is_spoofed() -> None:
    assert rules_for(verstat="TN-Validation-Failed") == ["spoof_stir_shaken"]
    assert rules_for(verstat="TN-Validation-Passed", attestation="A") == []


def test_weak_attestation_raises_the_score_of_other_verdicts() -> None:
    strong, _ = verdicts(enrich(cdr(calling_number="0612345678"), P), P)
    weak, _ = verdicts(enrich(cdr(calling_number="0612345678", attestation="C"), P), P)
    assert weak[0].score > strong[0].score
    assert "weak attestation" in weak[0].reason


def test_home_caller_with_foreign_network_number_is_flagged() -> None:
    found = rules_for(calling_number="0612345678", ingress_trunk="NAT-TIM-1",
                      network_number="+447911123456")
    assert found == ["spoof_network_mismatch"]


def test_allowlisted_enterprise_trunk_presenting_its_customer_number_is_suppressed() -> None:
    call = enrich(cdr(calling_number="+390212345678", ingress_trunk="ENT-ACME-SIP",
                      network_number="+447911123456"), P)
    found, suppressed = verdicts(call, P)
    assert found == [] and [v.rule for v in suppressed] == ["spoof_network_mismatch"]


def test_switched_off_rule_does_not_fire() -> None:
    off = policy(spoofing={"protected": False})
    found, _ = verdicts(enrich(cdr(calling_number="4010086"), off), off)
    assert "spoof_protected" not in [v.rule for v in found]


def test_every_verdict_explains_itself_with_the_number() -> None:
    found, _ = verdicts(enrich(cdr(calling_number="+393201010086"), P), P)
    assert "+393201010086" in found[0].reason and "INTL-BICS-1" in found[0].reason


CN = policy(home_country="CN", protected_numbers={"numbers": ["4006816666", "96110"],
                                                  "prefixes": ["+86400"]},
            trunks={"INTL-BICS-1": "international"})


@pytest.mark.parametrize(("caller", "expected"), [
    ("004006816666", ["spoof_lookalike"]),          # "00" + the hotline's digits
    ("008524006816666", ["spoof_lookalike"]),       # a Hong Kong number built around it
    ("4006816666", ["spoof_protected"]),            # the hotline itself
    ("96110", ["spoof_protected"]),                 # anti-fraud line without its area code
    ("+4006816666", ["spoof_lookalike"]),           # "+" and the hotline's digits
    ("0040068166", ["spoof_invalid_caller"]),       # part of the digits: not a look-alike
])
def test_china_hotline_impersonation(caller: str, expected: list[str]) -> None:
    assert rules_for(CN, calling_number=caller) == expected


def test_96110_with_an_area_code_is_the_real_anti_fraud_centre() -> None:
    assert "spoof_protected" not in rules_for(CN, calling_number="01096110",
                                              ingress_trunk="NAT")


# An operator protects the whole class: every company's 400 hotline, listed or not.
CN_CLASS = policy(home_country="CN", protected_numbers={"prefixes": ["+86400", "+86800"]},
                  trunks={"INTL-BICS-1": "international"})


@pytest.mark.parametrize(("caller", "expected"), [
    ("004008208888", ["spoof_lookalike"]),          # "00" + an unlisted 400 hotline
    ("008524008208888", ["spoof_lookalike"]),       # behind a Hong Kong country code
    ("00638008208888", ["spoof_lookalike"]),        # an 800 line behind the Philippines' code
    ("4008208888", ["spoof_protected"]),            # the hotline itself
    ("+4314008208888", []),                         # a valid Vienna number ending the same way
    ("0085240082088", ["spoof_invalid_caller"]),    # too few digits to be a 400 number
])
def test_lookalike_of_any_number_of_a_protected_class(caller: str, expected: list[str]) -> None:
    assert rules_for(CN_CLASS, calling_number=caller) == expected


def test_class_lookalike_names_the_hotline_it_copies() -> None:
    found, _ = verdicts(enrich(cdr(calling_number="008524008208888"), CN_CLASS), CN_CLASS)
    assert "+864008208888" in found[0].reason and "+86400" in found[0].reason


@pytest.mark.parametrize("name", ["it", "uk", "us", "cn"])
def test_every_preset_acts_on_a_failed_verification_only_where_a_record_carries_one(
        name: str) -> None:
    pol = load_policy(DEFAULT_POLICY.parent / "presets" / f"{name}.toml")
    failed = dict(calling_number="+12025550123", verstat="TN-Validation-Failed")
    assert "spoof_stir_shaken" in rules_for(pol, **failed)
    assert "spoof_stir_shaken" not in rules_for(pol, calling_number="+12025550123")


@pytest.mark.parametrize(("fields", "kind", "known"), [
    ({"ingress_trunk": "NAT-TIM-1"}, "national", True),                  # from the trunk map
    ({"ingress_trunk": "X", "ingress_kind": "international"}, "international", True),
    ({"ingress_trunk": "SIP-NEW-7"}, "national", False),                 # neither: say so
])
def test_a_trunk_of_unknown_kind_is_read_as_national_and_marked(fields: dict, kind: str,
                                                                 known: bool) -> None:
    call = enrich(cdr(**fields), P)
    assert (call.ingress_kind, call.trunk_known) == (kind, known)
