"""The data contract: parsing CDRs and micro-batches, alert ids, schemas in sync with models."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from streams.events import Alert, alert_id, decode_message, dump_alert, load_alert
from streams.schemas import MODELS, SCHEMA_DIR, render

GOOD = {
    "record_id": "r1", "start_time": "2026-11-20T10:00:00Z", "duration_s": 12.5,
    "answered": True, "release_cause": 16, "calling_number": "+393201010086",
    "called_number": "3331234567", "ingress_trunk": "INTL-BICS-1",
}


def test_single_record_message_parses_and_keeps_unknown_fields() -> None:
    good, bad = decode_message(orjson.dumps({**GOOD, "vendor_field": "x"}))
    assert bad == []
    assert good[0].record_id == "r1"
    assert good[0].model_extra == {"vendor_field": "x"}
    assert good[0].start_time.tzinfo is not None


def test_micro_batch_keeps_good_records_and_reports_bad_ones_by_index() -> None:
    batch = [GOOD, {**GOOD, "record_id": "r2", "duration_s": -1}, 7, {**GOOD, "record_id": "r3"}]
    good, bad = decode_message(orjson.dumps(batch))
    assert [e.record_id for e in good] == ["r1", "r3"]
    assert [(b.index, b.reason.split(":")[0]) for b in bad] == [
        (1, "invalid record"), (2, "record is a JSON int, not an object")]
    assert "duration_s" in bad[0].reason


@pytest.mark.parametrize(("value", "reason"), [
    (b"{not json", "not JSON"),
    (b"[]", "empty JSON array"),
    (b'"text"', "record is a JSON str, not an object"),
    (orjson.dumps({**GOOD, "start_time": "2026-11-20T10:00:00"}), "invalid record: start_time"),
    (orjson.dumps({k: v for k, v in GOOD.items() if k != "called_number"}),
     "invalid record: called_number: Field required"),
    (orjson.dumps({**GOOD, "ingress_kind": "satellite"}), "invalid record: ingress_kind"),
])
def test_bad_messages_get_a_reason_naming_the_problem(value: bytes, reason: str) -> None:
    good, bad = decode_message(value)
    assert good == []
    assert bad[0].reason.startswith(reason)


def test_alert_id_is_deterministic_and_depends_on_detector_key_window() -> None:
    w = datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert alert_id("burst_range", "+6391755", w) == alert_id("burst_range", "+6391755", w)
    assert alert_id("burst_range", "+6391755", w) != alert_id("burst_range", "+6391756", w)
    assert alert_id("burst_range", "+6391755", w) != alert_id("wangiri_range", "+6391755", w)


def test_alert_round_trips_through_json() -> None:
    w = datetime(2026, 11, 20, 10, tzinfo=UTC)
    alert = Alert(alert_id="a", detector="d", severity="high", score=0.9, key="+39", window_start=w,
                  window_end=w, detected_at=w, observed=3, baseline=1.0, record_ids=["r1"],
                  explanation="why")
    assert load_alert(dump_alert(alert)) == alert


@pytest.mark.parametrize("name", sorted(MODELS))
def test_committed_schema_matches_model(name: str) -> None:
    committed = (SCHEMA_DIR / f"{name}.schema.json").read_text()
    assert committed == render(name), "schemas/ is stale: run `python -m streams.schemas`"


def test_bundled_fixture_records_validate_against_the_json_schema() -> None:
    schema = json.loads((SCHEMA_DIR / "call-event.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    fixture = Path(__file__).resolve().parents[2] / "streams" / "fixtures" / "demo.jsonl"
    lines = fixture.read_text().splitlines()[:500]
    for line in lines:
        validator.validate(json.loads(line))
    with pytest.raises(Exception, match="required"):
        validator.validate({"record_id": "x"})
