"""The evaluation's warning rows: victims, the share warned, the delay, false warnings."""

from __future__ import annotations

from datetime import timedelta

from streams.evaluation.inputs import generated
from streams.evaluation.observe import evaluate
from streams.evaluation.scoring import CallFact
from streams.evaluation.warned import ALL, Issued, warned_scores
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.traffic import CampaignSpec, TrafficConfig

CALLS = {
    # wangiri victims: +391 answered twice (first at 100), +392 answered, +393 did not
    "w1": CallFact(100, "+8821", "wangiri", "W", True, callee="+391", answered=True),
    "w2": CallFact(160, "+8821", "wangiri", "W", True, callee="+391", answered=True),
    "w3": CallFact(130, "+8821", "wangiri", "W", True, callee="+392", answered=True),
    "w4": CallFact(140, "+8821", "wangiri", "W", True, callee="+393", answered=False),
    # a spoofing victim who is also a wangiri victim, first reached later
    "s1": CallFact(400, "+3906", "protected_spoof", "S", True, callee="+391", answered=True),
    "n1": CallFact(150, "+3355", callee="+394", answered=True),  # legitimate
}


def test_share_and_delay_per_scenario_count_each_victim_once_from_their_first_contact() -> None:
    issued = [Issued("+391", "w2", 190.0),  # 90 s after +391's first answered call (w1)
              Issued("+391", "s1", 400.0),
              Issued("+394", "n1", 150.0)]  # a warning on a legitimate call
    got = warned_scores(CALLS, issued)
    rows = {r.scenario: r for r in got.rows}
    wangiri = rows["wangiri"]
    assert (wangiri.victims, wangiri.warned, wangiri.share) == (2, 1, 0.5)  # +393 not a victim
    assert wangiri.median_delay_s == 90.0 and wangiri.p90_delay_s == 90.0
    spoof = rows["protected_spoof"]
    assert (spoof.victims, spoof.warned, spoof.median_delay_s) == (1, 1, 0.0)
    overall = rows[ALL]  # +391's first fraud contact is w1 (100): the earliest warning 90 s on
    assert (overall.victims, overall.warned, overall.median_delay_s) == (2, 1, 90.0)
    assert (got.false_warnings, got.warnings) == (1, 3)


def test_a_warning_sent_before_the_first_contact_it_is_matched_to_counts_no_negative_delay(
        ) -> None:
    got = warned_scores(CALLS, [Issued("+392", "w3", 120.0)])
    assert {r.scenario: r.median_delay_s for r in got.rows} == {
        "wangiri": 0.0, "protected_spoof": None, ALL: 0.0}


def test_no_warnings_warn_no_victim() -> None:
    got = warned_scores(CALLS, [])
    assert [(r.scenario, r.victims, r.warned, r.share) for r in got.rows] == [
        ("protected_spoof", 1, 0, 0.0), ("wangiri", 2, 0, 0.0),
        (ALL, 2, 0, 0.0)]


def test_the_evaluation_of_generated_traffic_warns_answered_victims_soon_after_detection(
        ) -> None:
    labelled = generated(TrafficConfig(home_region="IT", hours=4.0, seed=3, campaigns=[
        CampaignSpec(name="protected_spoof", start_offset=timedelta(hours=1)),
        CampaignSpec(name="intl_burst", start_offset=timedelta(hours=2))]))
    ev = evaluate(labelled.events, labelled.labels, load_policy(DEFAULT_POLICY),
                  labelled.campaigns)
    assert ev.warned is not None
    rows = {r.scenario: r for r in ev.warned.rows}
    for scenario in ("intl_burst", "protected_spoof"):
        row = rows[scenario]
        assert row.victims > 0 and row.share is not None and row.share >= 0.5, row
        # a spoofing verdict warns at the call; a burst once its window crosses
        assert row.p90_delay_s is not None and row.p90_delay_s <= 600, row
