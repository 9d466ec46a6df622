"""Issue 4 on labelled fixtures: a normal day stays quiet; every campaign is caught in time.

Latency is event time from a campaign's first call to the first alert of its detector whose
window already held one of its calls (the `cdrwatch evaluate` definition).
"""

from __future__ import annotations

from functools import cache

import pytest

from streams.evaluation import evaluate
from streams.evaluation.inputs import load_files
from streams.evaluation.scoring import Evaluation
from tests.fixtures.build import FIXTURES

BURST_DETECTORS = ("burst_range", "burst_country", "burst_ramp", "fanout_number",
                   "wangiri_range", "targeted_subscriber")
MINUTE = 60.0

# campaign id -> (detector that must catch it, event-time latency ceiling s, recall floor)
CAMPAIGNS = {
    # sudden: within one 5-min burst window of the first call
    "burst-ph": ("burst_range", 5 * MINUTE, 1.0),
    # within one 10-min wangiri / fan-out window
    "wangiri-tn": ("wangiri_range", 10 * MINUTE, 1.0),
    "fanout-gb": ("fanout_number", 10 * MINUTE, 1.0),
    # 40 international calls to one subscriber in 20 min: well inside one 30-min window
    "bombarded-one": ("targeted_subscriber", 10 * MINUTE, 1.0),
    # 4/h growing to 200/h over 90 min: caught before the ramp ends, most calls flagged
    "ramp-sn": ("burst_ramp", 75 * MINUTE, 0.7),
}


@cache
def evaluated(name: str) -> Evaluation:
    data = load_files(FIXTURES[name].events)
    return evaluate(data.events, data.labels, FIXTURES[name].load_policy(), data.campaigns)


def test_a_normal_day_raises_no_burst_alert() -> None:
    ev = evaluated("normal_day")
    assert ev.events > 10_000 and ev.days >= 0.99
    loud = [(i.detector, i.key, i.explanation) for i in ev.incidents
            if i.detector in BURST_DETECTORS]
    assert loud == []


def test_every_campaign_of_the_fixture_is_in_the_table() -> None:
    assert {c.id for c in evaluated("burst_campaigns").campaigns} == set(CAMPAIGNS)


@pytest.mark.parametrize(("campaign", "detector", "ceiling_s", "floor"),
                         [(cid, *row) for cid, row in CAMPAIGNS.items()])
def test_each_campaign_is_detected_by_its_detector_in_time(campaign: str, detector: str,
                                                           ceiling_s: float,
                                                           floor: float) -> None:
    outcome = next(c for c in evaluated("burst_campaigns").campaigns if c.id == campaign)
    assert detector in outcome.expected
    assert detector in outcome.latency_by, f"{campaign} missed; alerted: {outcome.latency_by}"
    assert 0 <= outcome.latency_by[detector] <= ceiling_s
    assert outcome.recall is not None and outcome.recall >= floor


def test_no_burst_incident_is_mostly_normal_traffic() -> None:
    ev = evaluated("burst_campaigns")
    assert [(i.detector, i.key) for i in ev.false_alarms] == []
    for score in ev.detectors:
        if score.detector in BURST_DETECTORS and score.flagged:
            assert score.precision is not None and score.precision >= 0.95, score


def test_wangiri_range_stays_off_a_range_that_rings_normally() -> None:
    ramp = next(c for c in evaluated("burst_campaigns").campaigns if c.id == "ramp-sn")
    assert "wangiri_range" not in ramp.latency_by
