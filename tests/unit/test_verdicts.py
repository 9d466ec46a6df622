"""Per-call verdicts: every call an incident covers gets one, not only the alert's sample."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import orjson
from pydantic import SecretStr

from streams.detect.engine import Engine, run_offline
from streams.detect.state import KeyState
from streams.detect.windowed import MAX_KEPT, FoldStats, Item, advance, fold
from streams.policy import load_policy
from streams.pseudonym import outgoing, outgoing_ids
from streams.replay import read_messages
from streams.settings import DEFAULT_POLICY
from streams.verdicts import call_verdict
from tests.unit.factories import T0, cdr, policy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
P = policy(trunks={"INTL-BICS-1": "international", "NAT-TIM-1": "national", "MOB-1": "mobile"})
COUNTED = ("burst_range", "burst_country", "burst_ramp")  # families whose observed is n


def _events(name: str) -> list:
    return [e for line in read_messages([FIXTURES / name]) for e in line.events]


def test_every_call_of_an_incident_window_gets_a_verdict_not_only_the_sample() -> None:
    pol = load_policy(DEFAULT_POLICY)
    result = run_offline(_events("burst_campaigns.jsonl"), pol)
    verdicts = [call_verdict(c, pol.home_country) for c in result.covered]
    by_alert: dict[str, list] = {}
    for v in verdicts:
        by_alert.setdefault(v.alert_id, []).append(v)
    assert len({(v.record_id, v.detector) for v in verdicts}) == len(verdicts)  # once each
    assert {v.alert_id for v in verdicts} == {a.alert_id for a in result.alerts}
    beyond_sample = 0
    for alert in result.alerts:
        covered = by_alert[alert.alert_id]
        assert {v.detector for v in covered} == {alert.detector}
        assert set(alert.record_ids) <= {v.record_id for v in covered}
        if alert.status == "update" and alert.detector in COUNTED:
            # an update carries a window's final count: each of those calls has its verdict
            inside = [v for v in covered if alert.window_start <= v.call_time < alert.window_end]
            assert len(inside) == alert.observed, alert.explanation
            beyond_sample += alert.observed > len(alert.record_ids)
    assert beyond_sample > 0  # windows larger than the sample were checked


def test_a_call_delivered_twice_gets_one_verdict() -> None:
    calls = [cdr(i * 20, record_id=f"b{i}", calling_number=f"+63917551{i:04d}",
                 called_number=f"33312{i:05d}") for i in range(40)]
    once = run_offline(calls, P).covered
    twice = run_offline(calls + calls[:25], P).covered
    assert once and sorted(once) == sorted(twice)


def test_a_spoofed_call_gets_the_verdict_of_its_rule_incident() -> None:
    call = cdr(0, record_id="s1", calling_number="4010086", called_number="3331234567")
    result = run_offline([call], P)
    (verdict,) = [call_verdict(c, "IT") for c in result.covered]
    (alert,) = [a for a in result.alerts if a.status == "open"]
    assert (verdict.record_id, verdict.detector, verdict.alert_id) == (
        "s1", alert.detector, alert.alert_id)
    assert verdict.subscriber == "+393331234567" and verdict.caller == "+394010086"
    assert verdict.severity == alert.severity and verdict.answered


def test_velocity_verdicts_name_the_subscriber_in_e164() -> None:
    """The velocity family is routed the number as dialled (reading it costs a lookup most
    calls never need): its verdicts read it in the home plan."""
    calls = [cdr(i * 5, record_id=f"v{i}", calling_number="3471234567", ingress_trunk="MOB-1",
                 duration_s=600, called_number=f"33312345{i:02d}") for i in range(5)]
    verdicts = [call_verdict(c, "IT") for c in run_offline(calls, P).covered]
    assert sorted(v.subscriber for v in verdicts) == [f"+3933312345{i:02d}" for i in range(5)]
    assert {v.detector for v in verdicts} == {"spoof_velocity"}


def test_a_window_that_no_incident_covers_gives_no_verdict() -> None:
    calls = [cdr(i * 60, record_id=f"q{i}", calling_number=f"+63917551{i:04d}",
                 called_number=f"33312{i:05d}") for i in range(5)]  # a handful: no burst
    result = run_offline(calls, P)
    assert result.alerts == [] and result.covered == []


def test_verdicts_switched_off_keep_no_calls() -> None:
    off = policy(actions={"verdicts": False})
    events = _events("burst_campaigns.jsonl")
    result = run_offline(events, off, flush_at_end=False)
    assert result.covered == []
    assert result.states is not None
    assert all(not w.kept for _, s in result.states.states() for w in s.windows.values())
    on = run_offline(events, policy(), flush_at_end=False)
    assert on.states is not None
    assert any(w.kept for _, s in on.states.states() for w in s.windows.values())


def test_pseudonymised_verdicts_name_the_incident_as_its_alert_does() -> None:
    pol = policy(privacy={"pseudonymise": True})
    secret = SecretStr("k" * 32)
    calls = [cdr(0, record_id="s1", calling_number="+447911000111", ingress_trunk="NAT-TIM-1",
                 called_number="3331234567", attestation="C", verstat="tn-validation-failed")]
    result = run_offline(calls, pol)
    private = outgoing(pol, secret)
    alerts = {private(a).alert_id: private(a) for a in result.alerts}
    verdicts = [call_verdict(c, "IT", outgoing_ids(pol, secret)) for c in result.covered]
    assert verdicts and Counter(v.alert_id in alerts for v in verdicts) == {True: len(verdicts)}
    for v in verdicts:
        assert v.key == alerts[v.alert_id].key and v.key.startswith("pn:")
        assert v.subscriber == "+393331234567"  # the operator's systems act on numbers


def test_a_window_kept_open_below_its_threshold_still_marks_its_calls() -> None:
    """A campaign's second window that stays above half its threshold (hysteresis) without
    crossing is still the incident: its calls get the incident's verdicts, at its close."""
    ws = 1800  # both windows whole 5-minute slots after T0
    first = [cdr(ws + i * 10, record_id=f"a{i}", calling_number=f"+63917551{i:04d}",
                 called_number=f"33312{i:05d}") for i in range(20)]
    second = [cdr(ws + 300 + i * 40, record_id=f"b{i}", calling_number=f"+63917552{i:04d}",
                  called_number=f"33313{i:05d}") for i in range(6)]
    result = run_offline(first + second, P)
    updates = [a for a in result.alerts if a.detector == "burst_range" and a.status == "update"]
    kept = [a for a in updates if a.observed == 6]
    assert kept and "threshold 9," in kept[0].explanation  # below it, yet kept open
    marked = {c.record_id for c in result.covered
              if c.detector == "burst_range" and c.alert_id == kept[0].alert_id}
    assert {f"b{i}" for i in range(6)} <= marked


def test_calls_past_what_a_window_keeps_are_counted_not_marked() -> None:
    """Before its watermark is known no burst window is judged: a window keeps MAX_KEPT
    calls for their verdicts, counts the rest as unmarked, and marks the kept ones once an
    incident covers it."""
    fam = Engine(P).families["burst_range"]
    ws = T0.timestamp() // 300 * 300
    items = [Item(ts=ws + i * 0.05, record_id=f"k{i}", caller=f"+63917551{i % 1000:04d}",
                  callee=f"+39333{i:07d}", duration_s=30.0, answered=True)
             for i in range(MAX_KEPT + 100)]
    state, stats, cov = KeyState(), FoldStats(), []
    fold(fam, "+6391755", state, items, None, stats, cov)
    assert (stats.unmarked, cov) == (100, [])
    advance(fam, "+6391755", state, ws + 3600, [], cov)
    assert len(cov) == MAX_KEPT and {c.record_id for c in cov} == {f"k{i}" for i in range(MAX_KEPT)}


def test_the_records_written_are_the_models_json_and_read_back_as_the_same_record() -> None:
    """verdict_line skips pydantic's serialiser on the hot path: it must write what it would."""
    from streams.events import CallVerdict
    from streams.verdicts import verdict_line
    from streams.warnings import Warner

    pol = load_policy(DEFAULT_POLICY)
    result = run_offline(_events("burst_campaigns.jsonl"), pol)
    verdicts = [call_verdict(c, "IT") for c in result.covered]
    warner = Warner(pol)
    warnings = [w for v in verdicts if (w := warner.see(v)) is not None]
    assert verdicts and warnings
    for record in [*verdicts, *warnings]:
        line = verdict_line(record)
        assert line == orjson.dumps(record.model_dump(mode="json"))
        assert type(record).model_validate_json(line) == record
    assert all(isinstance(v, CallVerdict) for v in verdicts)
