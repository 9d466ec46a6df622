"""The evaluation's trap rows: false alarms on legitimate calls, by detector and severity, and
whether records sent twice or late were counted once and reported late."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console

from streams.detect.engine import run_offline
from streams.evaluation import evaluate
from streams.evaluation.inputs import generated
from streams.evaluation.report import print_report, to_json
from streams.evaluation.scoring import CallFact, Hit, Incident
from streams.evaluation.traps import delivery_score, trap_scores
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.traffic import CampaignSpec, TrafficConfig

#   id:   ts  caller  scenario  campaign  fraud  trap  duplicate  late_s
CALLS = {
    "r1": CallFact(100, "+7", "roamer_unflagged", "R", False, "roamer_unflagged"),
    "r2": CallFact(110, "+8", "roamer_unflagged", "R", False, "roamer_unflagged"),
    "u1": CallFact(120, "+9", "unscreened_trunk", "U", False, "unscreened_trunk"),
    "n1": CallFact(105, "+3", duplicate=True),
    "n2": CallFact(205, "+4", late_s=600.0),
    "f1": CallFact(130, "+5", "intl_burst", "B", True, duplicate=True),
}


def _incident(detector: str, severity: str, *ids: str) -> Incident:
    return Incident(detector, f"{detector}-{severity}", "+7", "x",
                    [Hit(100, frozenset(ids))], severity)


def test_a_hand_made_alert_on_trap_calls_is_a_false_alarm_of_its_row() -> None:
    incidents = [_incident("spoof_velocity", "high", "r1", "r2", "n1"),
                 _incident("spoof_unverified_roaming", "low", "r2")]
    rows = {t.trap: t for t in trap_scores(CALLS, incidents, {"spoof_velocity": {"r1"}})}
    roamer = rows["roamer_unflagged"]
    assert (roamer.calls, roamer.false_alarms, roamer.alerted_calls) == (2, 1, 2)
    assert roamer.incidents == {"spoof_unverified_roaming": {"low": 1},
                                "spoof_velocity": {"high": 1}}
    assert roamer.flagged == {"spoof_velocity": 1}
    # the same incident holds a legitimate duplicated call: the delivery row counts it too
    assert (rows["duplicates_late"].calls, rows["duplicates_late"].false_alarms) == (2, 1)


def test_a_trap_nothing_alerted_on_shows_zero_and_low_severity_is_no_false_alarm() -> None:
    rows = {t.trap: t for t in trap_scores(CALLS, [_incident("spoof_x", "low", "u1")], {})}
    assert set(rows) == {"roamer_unflagged", "unscreened_trunk", "duplicates_late"}
    assert (rows["roamer_unflagged"].false_alarms, rows["roamer_unflagged"].incidents) == (0, {})
    assert rows["unscreened_trunk"].false_alarms == 0
    assert rows["unscreened_trunk"].incidents == {"spoof_x": {"low": 1}}
    medium = trap_scores(CALLS, [_incident("spoof_x", "medium", "u1")], {})
    assert {t.trap: t.false_alarms for t in medium}["unscreened_trunk"] == 1


def test_delivery_counts_copies_counted_twice_and_late_records_reported_late() -> None:
    d = delivery_score(CALLS, routed={"n2", "f1"}, reported_late={"n2"}, copies_in_time=3,
                       dropped=2)
    assert d is not None
    assert (d.duplicated, d.counted_twice, d.late, d.late_routed, d.reported_late) == (
        2, 1, 1, 1, 1)
    assert delivery_score({"a": CallFact(1, "+1")}, set(), set(), 0, 0) is None


@pytest.fixture(scope="module")
def trapped() -> tuple:
    config = TrafficConfig(home_region="IT", hours=3, seed=4, calls_per_hour=600, campaigns=[
        CampaignSpec(name="unscreened_trunk", start_offset=timedelta(0)),
        CampaignSpec(name="roamer_unflagged", start_offset=timedelta(0)),
        CampaignSpec(name="duplicates_late", start_offset=timedelta(0),
                     params={"share": 0.1, "late_share": 0.02}),
        CampaignSpec(name="intl_burst", start_offset=timedelta(hours=1.5)),
    ])
    data = generated(config)
    return data, evaluate(data.events, data.labels, load_policy(DEFAULT_POLICY), data.campaigns)


def test_generated_trap_rows_count_what_the_detectors_raised_on_their_calls(trapped: tuple
                                                                            ) -> None:
    data, ev = trapped
    rows = {t.trap: t for t in ev.traps}
    assert set(rows) == {"unscreened_trunk", "roamer_unflagged", "duplicates_late"}
    unscreened = {rid for rid, lab in data.labels.items() if lab.get("trap") == "unscreened_trunk"}
    # every spoof_invalid_caller incident whose own alert names an unscreened call is counted
    alerts = run_offline(data.events, load_policy(DEFAULT_POLICY)).alerts
    named = {a.alert_id for a in alerts if a.detector == "spoof_invalid_caller"
             and a.status != "resolved" and set(a.record_ids) & unscreened}
    assert named
    assert rows["unscreened_trunk"].false_alarms >= len(named)
    assert rows["unscreened_trunk"].incidents["spoof_invalid_caller"]["medium"] >= len(named)
    assert rows["unscreened_trunk"].calls == len(unscreened)
    # unflagged roamers: low-severity verdicts only, so no false alarm
    assert set(rows["roamer_unflagged"].incidents) == {"spoof_unverified_roaming"}
    assert rows["roamer_unflagged"].false_alarms == 0
    # traps are not campaigns with a latency: only the burst is scored as one
    assert [c.scenario for c in ev.campaigns] == ["intl_burst"]


def test_records_sent_twice_count_once_and_late_ones_are_reported(trapped: tuple) -> None:
    data, ev = trapped
    d = ev.delivery
    twice = {lab["record_id"] for lab in data.labels.values() if lab.get("duplicate")}
    assert d is not None and d.duplicated == len(twice) > 50
    assert len(data.events) == ev.events + len(twice)  # each call once in the evaluation
    assert d.copies_in_time > 0 and d.counted_twice == 0
    assert 0 < d.reported_late <= d.late_routed <= d.late


def test_report_and_json_show_the_trap_rows(trapped: tuple) -> None:
    _, ev = trapped
    out = io.StringIO()
    print_report(ev, Console(file=out, width=160))
    text = out.getvalue()
    row = next(line for line in text.splitlines() if line.lstrip().startswith("unscreened_trunk")
               and "spoof_invalid_caller medium" in line)
    trap = {t.trap: t for t in ev.traps}["unscreened_trunk"]
    assert f" {trap.false_alarms} " in row
    assert "counted twice 0" in text
    js = to_json(ev)
    assert {t["trap"]: t["false_alarms"] for t in js["traps"]}["unscreened_trunk"] == \
        trap.false_alarms
    assert js["delivery"]["counted_twice"] == 0
