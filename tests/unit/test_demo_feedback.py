"""The analysts' verdicts the demo gives (`streams/fixtures/demo.feedback.jsonl`) name the
incidents `cdrwatch detect` raises on the demo fixture: the false alarms are the call
centre's (the labelled trap), the confirmations fraud campaigns. A detector change that
moves an incident's id or its first window shows here first."""

from __future__ import annotations

import orjson

from streams.feedback import read_feedback
from streams.offline import detect_files
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.traffic.fixtures import FIXTURES


def test_each_verdict_names_an_incident_of_its_kind_opened_before_it() -> None:
    alerts = detect_files([FIXTURES / "demo.jsonl"], load_policy(DEFAULT_POLICY)).result.alerts
    opened = {a.alert_id: a for a in alerts if a.status == "open"}
    campaigns = [orjson.loads(line) for line in
                 (FIXTURES / "demo.campaigns.jsonl").read_bytes().splitlines()]
    prefixes = {c["parameters"]["prefix"]: c["fraud"] for c in campaigns
                if "prefix" in c["parameters"]}
    verdicts = list(read_feedback(FIXTURES / "demo.feedback.jsonl"))
    assert {v.verdict for v in verdicts} == {"confirmed", "false_alarm"}
    for verdict in verdicts:
        incident = opened[verdict.alert_id]
        assert incident.detected_at < verdict.at
        assert prefixes[incident.key] is (verdict.verdict == "confirmed"), incident.key
