"""Issue 3 on labelled fixtures: every spoofed call is flagged by its rule, no legit call is.

Per call: a scenario's calls must be flagged by one of its expected rules (recall floor) and
no normal call may be flagged by any spoofing rule (per-call precision). Per alert: the
explanation names the caller ID it is about. Roamers and a busy call centre stay silent.
"""

from __future__ import annotations

from functools import cache

import pytest

from streams.detect.engine import Engine, run_offline
from streams.evaluation import Observation, observe
from streams.evaluation.inputs import Labelled, load_files
from streams.evaluation.scoring import ratio
from tests.fixtures.build import FIXTURES

# fixture -> {scenario: (rules any of which must flag each of its calls, recall floor)}
RECALL = {
    "protected_from_abroad": {"protected_spoof": (("spoof_protected",), 1.0)},
    "domestic_mobile_from_abroad": {
        "domestic_from_abroad": (("spoof_domestic_from_abroad", "spoof_unverified_roaming"), 1.0),
    },
    "invalid_ranges": {"invalid_caller": (("spoof_invalid_caller",), 1.0)},
    "stir_failed": {"stir_failed": (("spoof_stir_shaken",), 1.0)},
    "cn_hotline": {
        "hotline_lookalike": (("spoof_lookalike",), 1.0),
        "protected_spoof": (("spoof_protected",), 1.0),
    },
}
# fixture -> (the legit component it is about, how many of its calls it must hold at least)
SILENT = {"roamers_calling_home": ("roamer", 250), "call_centre": ("call_centre", 2000)}
SPOOFING = (*RECALL, *SILENT)


def is_spoof_rule(detector: str) -> bool:
    return detector.startswith("spoof_")


@cache
def labelled(name: str) -> Labelled:
    return load_files(FIXTURES[name].events)


@cache
def observed(name: str) -> Observation:
    return observe(labelled(name).events, labelled(name).labels, FIXTURES[name].load_policy())


def fraud_of(name: str, scenario: str) -> set[str]:
    return {rid for rid, lab in labelled(name).labels.items() if lab["scenario"] == scenario}


@pytest.mark.parametrize("name", SPOOFING)
def test_observed_alerts_are_the_offline_detect_alerts(name: str) -> None:
    """The scoring below reads `observe`; it must see exactly what `cdrwatch detect` emits."""
    offline = run_offline(labelled(name).events, FIXTURES[name].load_policy())
    assert observed(name).alerts == offline.alerts


@pytest.mark.parametrize(("name", "scenario", "rules", "floor"), [
    (name, scenario, rules, floor)
    for name, table in RECALL.items() for scenario, (rules, floor) in table.items()
])
def test_every_spoofed_call_is_flagged_by_its_rule(name: str, scenario: str,
                                                   rules: tuple[str, ...], floor: float) -> None:
    own = fraud_of(name, scenario)
    assert len(own) >= 100, "a fixture too small to measure recall"
    flagged = set().union(*(observed(name).flagged.get(r, set()) for r in rules)) & own
    missed = sorted(own - flagged)[:5]
    assert ratio(len(flagged), len(own)) >= floor, f"{scenario} calls missed: {missed}"


@pytest.mark.parametrize("name", SPOOFING)
def test_no_legit_call_is_flagged_by_a_spoofing_rule(name: str) -> None:
    legit = {rid for rid, lab in labelled(name).labels.items() if not lab["fraud"]}
    wrong = {rule: sorted(ids & legit)[:5]
             for rule, ids in observed(name).flagged.items() if is_spoof_rule(rule) and ids & legit}
    assert wrong == {}


def test_roaming_flag_decides_between_the_two_abroad_rules() -> None:
    """Known not roaming: the high-severity rule; roaming unknown: the low-severity one."""
    name = "domestic_mobile_from_abroad"
    engine = Engine(FIXTURES[name].load_policy())
    seen = {}
    for event in labelled(name).events:
        if labelled(name).labels[event.record_id]["scenario"] == "domestic_from_abroad":
            rules = tuple(v.rule for v in engine.route(event).verdicts)
            seen.setdefault(event.calling_roaming, set()).add(rules)
    assert seen == {False: {("spoof_domestic_from_abroad",)},
                    None: {("spoof_unverified_roaming",)}}


@pytest.mark.parametrize("name", tuple(RECALL))
def test_alerts_come_from_the_expected_rules_and_name_the_number(name: str) -> None:
    alerts = [a for a in observed(name).alerts if a.status != "resolved"]
    expected = {r for rules, _ in RECALL[name].values() for r in rules}
    assert expected <= {a.detector for a in alerts}
    for alert in alerts:
        if is_spoof_rule(alert.detector):
            # the key is the E.164 caller ID; look-alikes quote it as presented ("00852...")
            assert alert.key.lstrip("+") in alert.explanation, alert
            assert all(labelled(name).labels[r]["fraud"] for r in alert.record_ids), alert


@pytest.mark.parametrize(("name", "component", "at_least"),
                         [(name, *row) for name, row in SILENT.items()])
def test_roamers_and_call_centre_raise_no_spoofing_alert(name: str, component: str,
                                                         at_least: int) -> None:
    own = {rid for rid, lab in labelled(name).labels.items() if lab["component"] == component}
    assert len(own) >= at_least, f"too few {component} calls to prove silence"
    assert [a for a in observed(name).alerts if is_spoof_rule(a.detector)] == []


def test_the_call_centre_places_its_thousands_of_calls_from_four_lines() -> None:
    data = labelled("call_centre")
    lines = {e.calling_number for e in data.events
             if data.labels[e.record_id]["component"] == "call_centre"}
    assert len(lines) == 4
