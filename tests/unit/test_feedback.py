"""Analysts' verdicts, pure: the latest `at` per incident holds whatever the arrival order,
what a false alarm retracts and suppresses (and for how long), what is counted per
detector, and that a verdict on an unknown alert is reported, never a crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.events import AnalystFeedback, SubscriberWarning, WarningRetraction
from streams.feedback import Ledger, WarningsRead, retractions
from streams.hotlist import build
from tests.unit.test_hotlist import MIN, T0, alert

RANGE = alert(at=1)  # burst_range on +6391755
RAMP = alert("burst_ramp", "+6391755", score=0.4, at=2)  # the same range, a weaker incident
NUMBER = alert("fanout_number", "+447512772130", at=3)


def verdict(target: str, kind: str = "false_alarm", minute: int = 10,
            suppress: timedelta | None = None, **extra: str) -> AnalystFeedback:
    return AnalystFeedback(alert_id=target, verdict=kind, at=T0 + minute * MIN,  # type: ignore[arg-type]
                           suppress_for=suppress, **extra)


def warning(of: str, subscriber: str) -> SubscriberWarning:
    return SubscriberWarning(warning_id=f"w{subscriber}{of[:4]}", subscriber=subscriber,
                             alert_id=of, detector="burst_range", severity="high",
                             first_contact=T0, record_id="r1", caller="+63917550001",
                             language="en", reason="x")


def ledger(alerts: list, verdicts: list[AnalystFeedback]) -> Ledger:
    out = Ledger()
    for a in alerts:
        out.alert(a)
    for v in verdicts:
        out.feedback(v)
    return out


def test_a_later_confirmed_reverses_a_false_alarm_and_a_later_false_alarm_reverses_back() -> None:
    wrong, right = verdict(RANGE.alert_id, minute=10), verdict(RANGE.alert_id, "confirmed", 20)
    assert ledger([RANGE], [wrong, right]).retracted() == frozenset()
    assert ledger([RANGE], [right, wrong]).retracted() == frozenset()  # `at`, not arrival
    again = verdict(RANGE.alert_id, minute=30)
    assert ledger([RANGE], [again, wrong, right]).retracted() == {RANGE.alert_id}
    assert ledger([RANGE], [wrong, right]).counts() == {("burst_range", "confirmed"): 1}


STORY = [RANGE, RAMP, NUMBER, alert(status="update", severity="high", start=5, end=10),
         verdict(RANGE.alert_id, minute=10, suppress=timedelta(hours=1)),
         verdict(RANGE.alert_id, "confirmed", 10, note="the same instant"),
         verdict(RAMP.alert_id, "confirmed", 12, note="b"),
         verdict(RAMP.alert_id, "confirmed", 12),
         verdict(NUMBER.alert_id, minute=14, suppress=timedelta(minutes=30)),
         verdict("0" * 20, "confirmed", 15)]


@given(st.permutations(STORY))
def test_the_ledger_is_a_function_of_the_sets_read(story: list) -> None:
    got = ledger([x for x in story if not isinstance(x, AnalystFeedback)],
                 [x for x in story if isinstance(x, AnalystFeedback)])
    expected = ledger(STORY[:4], STORY[4:])  # type: ignore[arg-type]
    assert got.latest == expected.latest and got.retracted() == expected.retracted()
    assert got.suppressions() == expected.suppressions()
    assert got.counts() == expected.counts() and got.unmatched() == expected.unmatched()


def test_what_the_story_gives() -> None:
    got = ledger(STORY[:4], STORY[4:])  # type: ignore[arg-type]
    # at the same `at` a false alarm holds over a confirmation, then the greater record
    assert got.latest[RANGE.alert_id].suppress_for == timedelta(hours=1)
    ties = [f for f in STORY[4:] if f.alert_id == RAMP.alert_id]  # type: ignore[union-attr]
    assert got.latest[RAMP.alert_id] == max(ties, key=lambda f: f.model_dump_json())
    assert got.retracted() == {RANGE.alert_id, NUMBER.alert_id}
    assert got.counts() == {("burst_ramp", "confirmed"): 1, ("burst_range", "false_alarm"): 1,
                            ("fanout_number", "false_alarm"): 1}
    assert got.unmatched() == {"0" * 20}  # reported, not counted against a detector
    assert got.suppressions() == {("burst_range", "+6391755"): [(T0 + 10 * MIN, T0 + 70 * MIN)],
                                  ("fanout_number", "+447512772130"): [
                                      (T0 + 14 * MIN, T0 + 44 * MIN)]}


@pytest.mark.parametrize(("minute", "dropped"), [(13, False), (14, True), (43, True),
                                                  (44, False)])
def test_a_suppression_holds_from_at_for_its_duration_not_after(minute: int,
                                                                dropped: bool) -> None:
    got = ledger([NUMBER], [verdict(NUMBER.alert_id, minute=14,
                                    suppress=timedelta(minutes=30))])
    assert got.suppressed("fanout_number", "+447512772130", T0 + minute * MIN) is dropped
    assert not got.suppressed("burst_range", "+447512772130", T0 + 20 * MIN)  # its detector
    assert not got.suppressed("fanout_number", "+447512772131", T0 + 20 * MIN)  # its key


def test_a_reversed_false_alarm_suppresses_nothing_and_an_unknown_alert_nothing() -> None:
    reversed_ = ledger([NUMBER], [verdict(NUMBER.alert_id, minute=14, suppress=timedelta(1)),
                                  verdict(NUMBER.alert_id, "confirmed", 20)])
    assert not reversed_.suppressed("fanout_number", "+447512772130", T0 + 30 * MIN)
    unknown = ledger([], [verdict(NUMBER.alert_id, minute=14, suppress=timedelta(1))])
    assert unknown.suppressions() == {} and unknown.counts() == {}
    assert unknown.unmatched() == {NUMBER.alert_id}
    assert unknown.retracted() == {NUMBER.alert_id}  # its warnings may outlive the alert


@pytest.mark.parametrize(("kind", "suppress", "why"), [
    ("confirmed", timedelta(days=1), "false_alarm verdict only"),
    ("false_alarm", timedelta(0), "positive"),
    ("maybe", None, "confirmed"),
])
def test_a_verdict_that_makes_no_sense_is_refused(kind: str, suppress: timedelta | None,
                                                  why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        verdict("x", kind, suppress=suppress)


def test_a_retracted_incident_lists_nothing_and_the_next_strongest_takes_its_key() -> None:
    alerts = [RANGE, RAMP, NUMBER]
    assert build(alerts).entries["+6391755"].alert_id == RANGE.alert_id
    got = ledger(alerts, [verdict(RANGE.alert_id), verdict(NUMBER.alert_id)])
    entries = build(alerts, retracted=got.retracted()).entries
    assert list(entries) == ["+6391755"] and entries["+6391755"].alert_id == RAMP.alert_id


def test_each_warning_of_a_false_alarm_is_retracted_once_and_reinstated_on_reversal() -> None:
    read = WarningsRead()
    mine = [warning(RANGE.alert_id, "+391"), warning(RANGE.alert_id, "+392")]
    other = warning(RAMP.alert_id, "+391")
    for w in [*mine, other]:
        read.read(w.model_dump_json().encode())
    wrong = ledger([RANGE], [verdict(RANGE.alert_id)])
    due = read.due(wrong)
    assert [(r.kind, r.warning_id) for r in due] == [("retraction", w.warning_id) for w in mine]
    assert all(isinstance(r, WarningRetraction) and r.retracted_at == T0 + 10 * MIN
               for r in due)
    for r in due[:1]:  # one sent by this worker, the other read back from the topic
        read.sent(r)
    read.read(due[1].model_dump_json().encode())
    assert read.due(wrong) == []  # nothing twice
    right = ledger([RANGE], [verdict(RANGE.alert_id), verdict(RANGE.alert_id, "confirmed", 20)])
    assert read.due(right) == mine  # the warning again, as it was
    assert retractions([*mine, other], wrong) == due


def test_a_warning_record_of_before_kind_existed_is_a_warning() -> None:
    read = WarningsRead()
    doc = warning(RANGE.alert_id, "+391").model_dump_json(exclude={"kind"}).encode()
    read.read(doc)
    assert read.issued == {RANGE.alert_id: {"w+391" + RANGE.alert_id[:4]: doc}}
    assert read.withdrawn == set()
