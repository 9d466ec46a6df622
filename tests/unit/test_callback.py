"""The callback guard (streams/detect/callback.py): a subscriber calling a flagged number back."""

from __future__ import annotations

import random
import re
from datetime import timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect import callback
from streams.detect.engine import Engine, run_offline
from streams.detect.keyed import KeyedStates
from streams.evaluation import evaluate
from streams.evaluation.inputs import load_files
from streams.events import Alert, CallEvent
from streams.numbering import classify
from streams.offline import alert_line, detect_files
from streams.policy import PolicyError, load_policy
from streams.pseudonym import pseudonymise
from tests.fixtures.build import FIXTURES
from tests.unit.factories import T0, cdr, policy

P = policy()
HOURS = P.callback.window_h * 3600
RANGE = "+6391755"


def wangiri(n: int = 30, at: float = 0.0) -> list[CallEvent]:
    """One-ring calls from one Philippine range to n subscribers, 10 s apart."""
    return [cdr(at + i * 10, calling_number=f"+63917551{i:04d}", called_number=f"333123{i:04d}",
                answered=False, duration_s=0.0,
                end_time=T0 + timedelta(seconds=at + i * 10 + 2)) for i in range(n)]


def back(at: float, sub: str = "3331230003", dest: str = "00639175510003",
         rid: str | None = None, **fields: object) -> CallEvent:
    """The subscriber `sub` dialling `dest` at `at` seconds."""
    return cdr(at, record_id=rid or f"cb{at:g}-{sub}", calling_number=sub, called_number=dest,
               direction="outbound", ingress_trunk="MOB-WINDTRE-1", **fields)


def callbacks(alerts: list[Alert], detector: str | None = "wangiri_range") -> list[Alert]:
    return [a for a in alerts if a.detector == "callback_risk"
            and (detector is None or (a.incident and a.incident.detector == detector))]


def test_a_callback_inside_the_span_raises_once_per_subscriber_and_incident() -> None:
    # an unrelated call moves event time on: the incident resolves, its key stays for callbacks
    calls = [*wangiri(), cdr(1800), back(3600), back(3700, sub="3331230004"), back(3800)]
    alerts = run_offline(calls, P).alerts
    incident = next(a for a in alerts if a.detector == "wangiri_range")
    got = callbacks(alerts)
    assert [(a.key, a.record_ids, a.status) for a in got] == [
        ("+393331230003", ["cb3600-3331230003"], "open"),
        ("+393331230004", ["cb3700-3331230004"], "open")]
    for a in got:
        assert a.incident is not None
        assert (a.incident.alert_id, a.incident.key) == (incident.alert_id, RANGE)
        assert a.severity == "high" and "+639175510003" in a.explanation
    assert len({a.alert_id for a in got}) == 2


@pytest.mark.parametrize(("at", "raises"), [
    (-1.0, False),                 # before the incident's first window
    (0.0, True),                   # its first window's start
    (HOURS + 600 - 1, True),       # its last window ended at 600: N hours after that, less 1 s
    (HOURS + 600 + 1, False),      # and just past it
])
def test_the_flagged_span_runs_from_the_first_window_to_n_hours_after_the_last(
        at: float, raises: bool) -> None:
    alerts = run_offline(sorted([*wangiri(at=1.0), back(at)], key=lambda e: e.start_time),
                         P).alerts
    assert any(a.detector == "wangiri_range" for a in alerts)
    assert bool(callbacks(alerts)) is raises


def test_a_callback_elsewhere_or_at_home_raises_nothing() -> None:
    calls = [*wangiri(), back(600, dest="00639175610003"), back(700, dest="3331230099")]
    assert callbacks(run_offline(calls, P).alerts, None) == []


def test_a_high_cost_destination_raises_the_severity() -> None:
    cb = P.callback
    assert callback.cost_of(classify("+449098712345", "IT"), cb) == "a premium rate number"
    assert callback.cost_of(classify("+882345678901", "IT"), cb) == (
        "in the high-cost range +882")
    assert callback.cost_of(classify("+639175510003", "IT"), cb) == ""
    costly = policy(callback={"extra_high_cost_prefixes": ["+6391755"]})
    got = callbacks(run_offline([*wangiri(), back(3600)], costly).alerts)
    assert [a.severity for a in got] == ["critical"]
    assert "high-cost range +6391755" in got[0].explanation


def test_outbound_calls_feed_no_inbound_rule_or_statistic() -> None:
    """Our subscribers' own calls: a protected number dialling out on an international
    trunk, and 200 calls into one foreign block, would each alert if read as inbound."""
    calls = [cdr(i * 5, record_id=f"o{i}", calling_number=("4010086" if i % 2 else
                 f"+63917551{i:04d}"), called_number=f"0063917552{i:04d}",
                 ingress_trunk="INTL-BICS-1", direction="outbound", answered=False,
                 duration_s=0.0) for i in range(200)]
    inbound = [c.model_copy(update={"direction": "inbound"}) for c in calls]
    assert run_offline(inbound, P).alerts  # the same calls inbound: spoofing and bursts
    result = run_offline(calls, P)
    assert (result.alerts, result.verdicts, result.misdeclared) == ([], {}, [])
    engine = Engine(P)
    routed = [r for c in calls for r in engine.route(c).routed]
    assert {(fam, item.tag) for fam, _, item in routed} == {
        ("burst_range", "callback"), ("wangiri_range", "callback"),
        ("fanout_number", "callback")}
    assert result.states is not None
    assert all(not s.windows and s.last_ts is None for _, s in result.states.states())


def _arrivals(calls: list[CallEvent], rnd: random.Random, spread_s: float) -> list[CallEvent]:
    """Each call delayed by up to `spread_s`, within the allowed lateness (120 s)."""
    return sorted(calls, key=lambda e: e.start_time.timestamp() + rnd.uniform(0, spread_s))


STORY = [*wangiri(), *wangiri(30, at=7200.0),
         back(-30, sub="3331230001"),            # before the incident: nothing
         back(250, sub="3331230002"),            # inside its first window, before most calls
         back(260, sub="3331230003", dest="00639175519999"),
         back(3600, sub="3331230002"),           # the same subscriber again
         back(7300, sub="3331230004")]           # into the second incident


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False))
def test_callbacks_do_not_depend_on_arrival_order(rnd: random.Random) -> None:
    ordered = sorted(STORY, key=lambda e: e.start_time)
    want = sorted(alert_line(a) for a in callbacks(run_offline(ordered, P).alerts, None))
    assert {orjson.loads(line)["key"] for line in want} == {
        "+393331230002", "+393331230003", "+393331230004"}
    shuffled = _arrivals(STORY, rnd, 100.0)
    got = sorted(alert_line(a) for a in callbacks(run_offline(shuffled, P).alerts, None))
    assert got == want


def test_a_callback_before_the_incident_calls_arrive_gives_the_same_alert() -> None:
    early = [back(250), *wangiri()]
    late = [*wangiri(), back(250)]
    lines = [sorted(alert_line(a) for a in callbacks(run_offline(c, P).alerts, None))
             for c in (early, late)]
    assert lines[0] == lines[1] and len(lines[0]) == 2  # burst_range and wangiri_range


def test_held_callbacks_and_remembered_incidents_survive_as_messagepack() -> None:
    """Every key held only as its bytes (as a restarted worker reads its changelog)."""
    engine = Engine(P)
    calls = sorted(STORY, key=lambda e: e.start_time)

    def run(live: int) -> list[str]:
        keyed = KeyedStates(engine.families, P.stream.baseline_ttl_s, live=live)
        out: list[Alert] = []
        for pos, event in enumerate(calls):
            for family, key, item in engine.route(event, 0, pos).routed:
                out += keyed.fold(family, key, [item], event.start_time.timestamp())
        out += keyed.end()
        return sorted(alert_line(a) for a in callbacks(out, None))

    assert run(0) == run(10_000) and run(0)


def test_a_key_holds_a_bounded_number_of_callbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callback, "MAX_HELD", 2)
    calls = [*wangiri(), *(back(3600 + i, sub=f"33312300{i:02d}") for i in range(5))]
    result = run_offline(sorted(calls, key=lambda e: e.start_time), P)
    assert result.states is not None
    assert result.states.stats["wangiri_range"].unjudged == 3
    assert len(callbacks(result.alerts)) == 2


def test_a_pseudonymised_callback_names_the_incident_as_it_leaves() -> None:
    fanout = [cdr(i * 10, calling_number="+447911123456", called_number=f"333123{i:04d}")
              for i in range(30)]
    alerts = run_offline([*fanout, back(3600, dest="00447911123456")], P).alerts
    incident = next(a for a in alerts if a.detector == "fanout_number")
    cb = callbacks(alerts, "fanout_number")[0]
    secret = b"k" * 32
    out = pseudonymise(cb, secret)
    assert out.incident is not None
    assert out.incident.alert_id == pseudonymise(incident, secret).alert_id != incident.alert_id
    line = alert_line(out.model_copy(update={"record_ids": []})).decode()
    assert "447911123456" not in line and "3331230003" not in line
    assert out.incident.alert_id in out.explanation
    ranged = callbacks(run_offline([*wangiri(), back(3600)], P).alerts)[0]
    assert pseudonymise(ranged, secret).incident == ranged.incident  # a block stays readable


@pytest.mark.parametrize(("section", "key"), [
    ("window_h = 0.1", "callback.window_h"),
    ('extra_high_cost_prefixes = ["44"]', "callback.extra_high_cost_prefixes[0]"),
    ('detectors = ["burst_country"]', "callback.detectors.0"),
])
def test_a_bad_callback_section_is_a_policy_error_naming_the_key(
        tmp_path: Path, section: str, key: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(f"[callback]\n{section}\n")
    with pytest.raises(PolicyError, match=re.escape(f"key '{key}'")):
        load_policy(path)


def test_detect_names_every_labelled_callback_of_the_fixture() -> None:
    """Generated victims who dial the wangiri number back: each is named by a callback_risk
    alert of each incident that flagged its block, the premium-rate range's as critical."""
    fixture = FIXTURES["wangiri_callbacks"]
    labels = [orjson.loads(line) for line in fixture.files()[1].read_bytes().splitlines()]
    victims = {lab["record_id"] for lab in labels if lab["component"] == "callback"}
    got = callbacks(detect_files([fixture.events], fixture.load_policy()).result.alerts, None)
    assert len(victims) > 20
    for detector in ("wangiri_range", "burst_range"):
        assert {r for a in got if a.incident and a.incident.detector == detector
                for r in a.record_ids} == victims
    severity = {a.incident.key: a.severity for a in got if a.incident}
    assert severity == {"+21628324": "high", "+4490987": "critical"}


def test_the_evaluation_counts_the_callbacks_caught() -> None:
    """Each labelled callback flagged by callback_risk alone: a callback item counts in no
    window, so a burst window does not claim it."""
    data = load_files(FIXTURES["wangiri_callbacks"].events)
    ev = evaluate(data.events, data.labels, FIXTURES["wangiri_callbacks"].load_policy(),
                  data.campaigns)
    row = next(s for s in ev.scenarios if s.scenario == "wangiri_callback")
    assert (row.calls, row.recall, row.by_detector) == (38, 1.0, {"callback_risk": 38})
