"""The hotlist a switch loads, from alerts alone: what is listed, with which action and
expiry, what is never listed, and that any order of the same alerts gives the same list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.events import Alert, alert_id
from streams.hotlist import LISTED, Hotlist, build, changes, dump_entry, load_entry

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def alert(detector: str = "burst_range", key: str = "+6391755", status: str = "open",
          severity: str = "medium", score: float = 0.5, first: int = 0, start: int = 0,
          end: int = 5, at: int | None = None) -> Alert:
    """An alert of the incident of `detector` on `key` named by its first window (minute
    `first`), for the window from minute `start` to `end`, detected at minute `at`."""
    live = status != "resolved"
    return Alert(alert_id=alert_id(detector, key, T0 + first * MIN), detector=detector,
                 severity=severity if live else "info", score=score if live else 0.0,
                 status=status, key=key, window_start=T0 + start * MIN,  # type: ignore[arg-type]
                 window_end=T0 + end * MIN, detected_at=T0 + (end if at is None else at) * MIN,
                 observed=10, explanation="x")


def listed(alerts: list[Alert], at: int | None = None, ttl_s: float = 3600) -> dict[str, Any]:
    return build(alerts, ttl_s, None if at is None else T0 + at * MIN).entries


def test_an_open_incident_lists_its_range_with_expiry_after_its_window() -> None:
    entry = listed([alert(at=1)])["+6391755"]
    assert (entry.kind, entry.prefix, entry.action, entry.scope) == ("range", "6391755",
                                                                      "label", "any")
    assert entry.confidence == 0.5 and entry.detector == "burst_range"
    assert entry.alert_id == alert_id("burst_range", "+6391755", T0)
    assert entry.since == T0 and entry.expires == T0 + 65 * MIN


def test_an_update_extends_the_expiry_and_a_stronger_one_turns_a_label_into_a_block() -> None:
    alerts = [alert(at=1), alert(status="update", severity="critical", score=0.97, end=5),
              alert(status="update", severity="medium", score=0.7, start=5, end=10)]
    entry = listed(alerts)["+6391755"]
    assert entry.expires == T0 + 70 * MIN
    # the incident's strongest figures so far: a campaign that eases off stays blocked
    assert (entry.action, entry.confidence) == ("block", 0.97)


def test_a_resolved_incident_is_gone() -> None:
    alerts = [alert(at=1), alert(status="resolved", start=5, end=10)]
    assert listed(alerts) == {}
    assert "+6391755" in listed(alerts, at=9)  # as of before its resolution


def test_an_incident_not_heard_of_again_expires_at_its_ttl() -> None:
    alerts = [alert(at=1)]
    assert "+6391755" in listed(alerts, at=64)
    assert listed(alerts, at=65) == {}
    assert listed(alerts, at=6, ttl_s=60) == {}


def test_alerts_after_the_moment_asked_for_are_not_read() -> None:
    alerts = [alert(at=1), alert(status="update", severity="critical", score=0.9)]
    assert listed(alerts, at=2)["+6391755"].action == "label"


def test_of_several_incidents_on_one_key_the_strongest_wins_with_the_latest_expiry() -> None:
    alerts = [alert("burst_ramp", severity="medium", score=0.6, end=15, at=2),
              alert("wangiri_range", severity="high", score=0.85, end=10, at=10),
              alert("burst_range", severity="high", score=0.8, end=5, at=3)]
    entry = listed(alerts)["+6391755"]
    assert (entry.detector, entry.action, entry.confidence) == ("wangiri_range", "block", 0.85)
    assert entry.expires == T0 + 75 * MIN  # burst_ramp's window ends last
    after = [*alerts, alert("wangiri_range", status="resolved", start=10, end=20)]
    assert listed(after)["+6391755"].detector == "burst_range"


@pytest.mark.parametrize("detector, key", [
    ("targeted_subscriber", "+393511745650"),  # the victim
    ("spoof_neighbour", "trunk:INTL-BICS-1"),
    ("burst_country", "+44"),  # a whole country
    ("some_future_detector", "+6391755"),
])
def test_victims_trunks_and_countries_are_never_listed(detector: str, key: str) -> None:
    assert listed([alert(detector, key, severity="critical", score=0.99)]) == {}


@pytest.mark.parametrize("detector, kind, scope", [
    ("spoof_protected", "number", "any"),
    ("spoof_domestic_from_abroad", "number", "international"),
    ("spoof_velocity", "number", "international"),
    ("spoof_stir_shaken", "number", "unverified"),
    ("fanout_number", "number", "any"),
])
def test_a_caller_number_is_listed_for_the_calls_its_rule_is_about(
        detector: str, kind: str, scope: str) -> None:
    entry = listed([alert(detector, "+393201010086", severity="critical", score=0.99)])
    assert (entry["+393201010086"].kind, entry["+393201010086"].scope) == (kind, scope)


def test_pseudonyms_and_raw_caller_ids_are_left_out_and_counted() -> None:
    alerts = [alert("spoof_velocity", "pn:0123456789abcdef"),
              alert("spoof_invalid_caller", "raw:12AB"), alert(at=1)]
    built = build(alerts)
    assert set(built.entries) == {"+6391755"}  # ranges stay readable under pseudonyms
    assert {r: len(ids) for r, ids in built.skipped.items()} == {"pseudonymised": 1,
                                                                 "not_e164": 1}


def test_the_clock_is_the_latest_alert_of_any_detector() -> None:
    alerts = [alert(at=1), alert("targeted_subscriber", "+393511745650", end=70)]
    assert listed(alerts) == {}


def test_changes_publish_new_and_changed_entries_and_tombstone_the_rest() -> None:
    before = listed([alert(at=1), alert("burst_range", "+21621430", at=1)])
    after = listed([alert(at=1), alert(status="update", severity="high", score=0.8),
                    alert("fanout_number", "+447512772130", at=2)])
    diff = changes(before, after)
    assert diff["+21621430"] is None
    assert diff["+6391755"] == after["+6391755"] and "+447512772130" in diff
    assert changes(after, after) == {}


def test_an_entry_reads_back_from_its_json() -> None:
    entry = listed([alert(at=1)])["+6391755"]
    assert load_entry(dump_entry(entry)) == entry
    assert b'"expires":"2026-11-20T10:05:00Z"' in dump_entry(entry)


def test_pruning_forgets_only_what_could_list_nothing_again() -> None:
    hot = Hotlist(ttl_s=60)
    for a in [alert(at=1), alert("burst_range", "+21621430", start=60, end=65)]:
        hot.push(a)
    hot.prune()
    assert len(hot.incidents) == 1
    hot.push(alert(at=1))  # read again after it was forgotten: still expired
    assert set(hot.entries()) == {"+21621430"}


CAMPAIGN = [
    alert(at=1), alert(status="update", severity="critical", score=0.97),
    alert(status="update", severity="high", score=0.9, start=5, end=10),
    alert(status="resolved", start=10, end=15),
    alert("wangiri_range", severity="high", score=0.85, end=10, at=10),
    alert("spoof_protected", "+394010086", severity="critical", score=0.99, end=60, at=3),
    alert("fanout_number", "+447512772130", first=20, start=20, end=30, at=25),
]


@given(st.permutations(CAMPAIGN + CAMPAIGN[:3]))
def test_any_order_and_any_redelivery_of_the_same_alerts_gives_the_same_hotlist(
        alerts: list[Alert]) -> None:
    assert listed(alerts) == listed(CAMPAIGN)


def test_every_listed_detector_is_one_the_engine_has() -> None:
    from streams.detect.families import SPOOF_RULES, build_families
    from streams.policy import load_policy
    from streams.settings import DEFAULT_POLICY

    assert set(LISTED) <= set(build_families(load_policy(DEFAULT_POLICY))) | set(SPOOF_RULES)
