"""The data contract: parsing CDRs and micro-batches, event-time bounds, watermarks, alert ids,
schemas in sync with models, and the watermarks replay sends at the end of each file."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

import streams.replay
from streams.events import (
    Alert,
    Decoded,
    TimeBounds,
    alert_id,
    decode_message,
    dump_alert,
    load_alert,
    watermark_message,
)
from streams.replay import read_messages, replay
from streams.schemas import MODELS, SCHEMA_DIR, render

GOOD = {
    "record_id": "r1", "start_time": "2026-11-20T10:00:00Z", "duration_s": 12.5,
    "answered": True, "release_cause": 16, "calling_number": "+393201010086",
    "called_number": "3331234567", "ingress_trunk": "INTL-BICS-1",
}
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
BOUNDS = TimeBounds.around(NOW, max_future_s=3600, max_past_days=3650)


def test_single_record_message_parses_and_keeps_unknown_fields() -> None:
    good, bad, watermark = decode_message(orjson.dumps({**GOOD, "vendor_field": "x"}))
    assert bad == [] and watermark is None
    assert good[0].record_id == "r1"
    assert good[0].model_extra == {"vendor_field": "x"}
    assert good[0].start_time.tzinfo is not None


def test_micro_batch_keeps_good_records_and_reports_bad_ones_by_index() -> None:
    batch = [GOOD, {**GOOD, "record_id": "r2", "duration_s": -1}, 7, {**GOOD, "record_id": "r3"}]
    good, bad, _ = decode_message(orjson.dumps(batch))
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
    good, bad, watermark = decode_message(value, BOUNDS)
    assert good == [] and watermark is None
    assert bad[0].reason.startswith(reason)


def test_bounds_around_the_wall_clock() -> None:
    assert (BOUNDS.earliest, BOUNDS.latest) == (NOW - 3650 * 86400, NOW + 3600)
    assert BOUNDS.breach(NOW + 3600) is None and BOUNDS.breach(NOW - 3650 * 86400) is None
    assert BOUNDS.breach(NOW + 3601).startswith("more than 3600 s ahead of the wall clock")
    assert BOUNDS.breach(0.0).startswith("more than 3650 days before the wall clock")


def test_bounds_past_what_a_datetime_holds_accept_every_date() -> None:
    wide = TimeBounds(-math.inf, math.inf)
    for start_time in ("0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59"):
        good, bad, _ = decode_message(orjson.dumps({**GOOD, "start_time": start_time}), wide)
        assert len(good) == 1 and bad == []
    assert wide.breach(1e300) is None and TimeBounds(0, 0).breach(1.0) is not None


def test_a_record_on_a_bound_is_within_it() -> None:
    for start_time in (BOUNDS.latest, BOUNDS.earliest):
        stamp = datetime.fromtimestamp(start_time, tz=UTC).isoformat()
        good, _, _ = decode_message(orjson.dumps({**GOOD, "start_time": stamp}), BOUNDS)
        assert len(good) == 1


@pytest.mark.parametrize(("start_time", "bound"), [
    ("2026-11-20T13:00:01Z", "more than 3600 s ahead of the wall clock"),
    ("9999-12-31T23:59:59Z", "more than 3600 s ahead of the wall clock"),
    ("1970-01-01T00:00:00Z", "more than 3650 days before the wall clock"),
    ("0001-01-01T00:00:00+01:00", "more than 3650 days before the wall clock"),
])
def test_a_single_record_out_of_bounds_is_rejected_naming_the_bound(start_time: str,
                                                                     bound: str) -> None:
    record = {**GOOD, "start_time": start_time}
    good, bad, _ = decode_message(orjson.dumps(record), BOUNDS)
    assert good == []
    assert bad[0].reason.startswith(f"start_time out of bounds: {start_time[:19]}")
    assert bound in bad[0].reason
    assert (bad[0].raw, bad[0].index) == (record, None)


def test_without_bounds_any_event_time_is_accepted() -> None:
    good, bad, _ = decode_message(orjson.dumps({**GOOD, "start_time": "1970-01-01T00:00:00Z"}))
    assert len(good) == 1 and bad == []


def test_out_of_bounds_records_in_a_batch_keep_their_index_and_the_good_ones_stay() -> None:
    future = {**GOOD, "record_id": "f", "start_time": "2027-01-01T00:00:00Z"}
    past = {**GOOD, "record_id": "p", "start_time": "2000-01-01T00:00:00Z"}
    batch = [GOOD, future, {**GOOD, "record_id": "r2"}, past]
    good, bad, _ = decode_message(orjson.dumps(batch), BOUNDS)
    assert [e.record_id for e in good] == ["r1", "r2"]
    assert [(b.index, b.raw["record_id"]) for b in bad] == [(1, "f"), (3, "p")]
    assert all(b.reason.startswith("start_time out of bounds: ") for b in bad)


def test_out_of_bounds_and_invalid_records_in_one_batch() -> None:
    batch = [{**GOOD, "start_time": "2027-01-01T00:00:00Z"}, {**GOOD, "duration_s": -1}, GOOD]
    good, bad, _ = decode_message(orjson.dumps(batch), BOUNDS)
    assert [e.record_id for e in good] == ["r1"]
    assert [(b.index, b.reason.split(":")[0]) for b in bad] == [
        (0, "start_time out of bounds"), (1, "invalid record")]


def test_watermark_message_round_trips() -> None:
    value = watermark_message(NOW)
    assert orjson.loads(value) == {"watermark": "2026-11-20T12:00:00Z"}
    assert decode_message(value, BOUNDS) == Decoded([], [], NOW)
    assert decode_message(b'{"watermark": "2026-11-20T13:00:00+01:00"}').watermark == NOW


def test_a_watermark_past_year_9999_says_year_9999() -> None:
    assert orjson.loads(watermark_message(1e300)) == {"watermark": "9999-12-31T23:59:59Z"}


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"watermark": "yesterday"}', "invalid watermark: watermark"),
    (b'{"watermark": "2026-11-20T12:00:00"}', "invalid watermark: watermark: Input should have "
                                              "timezone info"),
    (b'{"watermark": null}', "invalid watermark: watermark"),
    (b'{"watermark": "2026-11-20T12:00:00Z", "source": "sw1"}', "invalid watermark: source: "
                                                                "Extra inputs are not permitted"),
    (b'{"watermark": "2030-01-01T00:00:00Z"}', "invalid watermark: out of bounds: "),
])
def test_a_malformed_watermark_is_dead_lettered(value: bytes, reason: str) -> None:
    good, bad, watermark = decode_message(value, BOUNDS)
    assert good == [] and watermark is None
    assert bad[0].reason.startswith(reason)
    assert bad[0].raw == orjson.loads(value) and bad[0].index is None


def test_a_watermark_inside_an_array_is_rejected_and_the_records_kept() -> None:
    batch = [GOOD, orjson.loads(watermark_message(NOW))]
    good, bad, watermark = decode_message(orjson.dumps(batch), BOUNDS)
    assert [e.record_id for e in good] == ["r1"] and watermark is None
    assert bad[0].index == 1 and bad[0].reason.startswith("invalid watermark: inside a JSON array")


def test_a_valid_record_with_a_watermark_field_is_a_record() -> None:
    good, bad, watermark = decode_message(orjson.dumps({**GOOD, "watermark": "x"}), BOUNDS)
    assert len(good) == 1 and bad == [] and watermark is None


def test_read_messages_reports_watermark_lines_and_bounds(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    path.write_bytes(b"\n".join([orjson.dumps(GOOD), watermark_message(NOW),
                                 orjson.dumps({**GOOD, "start_time": "2030-01-01T00:00:00Z"})]))
    lines = list(read_messages([path], BOUNDS))
    assert [(line.watermark, line.error) for line in lines[:2]] == [(None, None), (NOW, None)]
    assert lines[2].error.startswith("start_time out of bounds: ")
    assert [line.error for line in read_messages([path])] == [None, None, None]


class _FakeProducer:
    """What replay asks of a KafkaProducer, recorded; the topic has three partitions."""

    def __init__(self, **config: object) -> None:
        self.sent: list[tuple[bytes, int | None]] = []
        self.flushed_at: list[int] = []

    def partitions_for(self, topic: str) -> set[int]:
        return {2, 0, 1}

    def send(self, topic: str, value: bytes, partition: int | None = None) -> None:
        self.sent.append((value, partition))

    def flush(self) -> None:
        self.flushed_at.append(len(self.sent))

    def close(self) -> None:
        pass


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> list[_FakeProducer]:
    made: list[_FakeProducer] = []

    def make(**config: object) -> _FakeProducer:
        made.append(_FakeProducer(**config))
        return made[-1]

    monkeypatch.setattr(streams.replay, "KafkaProducer", make)
    return made


def _record(i: int, start: str) -> bytes:
    return orjson.dumps({**GOOD, "record_id": f"r{i}", "start_time": start})


def test_replay_ends_each_file_with_a_watermark_on_every_partition(
        tmp_path: Path, producer: list[_FakeProducer]) -> None:
    first, second, empty = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    first.write_bytes(b"\n".join([_record(1, "2026-11-20T10:05:00Z"),
                                  _record(2, "2026-11-20T10:00:00Z")]))
    second.write_bytes(_record(3, "2026-11-20T11:00:00Z") + b"\n{broken")
    empty.write_bytes(b"{broken\n")
    report = replay([first, second, empty], "x:9092", "events", progress=False)
    assert (report.sent, report.watermarks) == (5, 6)
    sent = producer[0].sent
    marks = [(decode_message(v).watermark, p) for v, p in sent if p is not None]
    t1 = datetime(2026, 11, 20, 10, 5, tzinfo=UTC).timestamp()
    t2 = datetime(2026, 11, 20, 11, tzinfo=UTC).timestamp()
    assert marks == [(t1, 0), (t1, 1), (t1, 2), (t2, 0), (t2, 1), (t2, 2)]
    assert [p for _, p in sent] == [None, None, 0, 1, 2, None, None, 0, 1, 2, None]
    assert producer[0].flushed_at[:2] == [2, 7]  # the records are in before each watermark


def test_end_of_data_closes_every_window_after_the_last_file(
        tmp_path: Path, producer: list[_FakeProducer]) -> None:
    late, early = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    late.write_bytes(_record(1, "2026-11-20T11:00:00Z"))
    early.write_bytes(_record(2, "2026-11-20T10:00:00Z") + b"\nnot json")
    report = replay([late, early], "x:9092", "events", progress=False, skip_invalid=True,
                    end_of_data=True, close_after_s=1920)
    assert (report.sent, report.skipped, report.watermarks) == (2, 1, 6)
    marks = [decode_message(v).watermark for v, p in producer[0].sent if p is not None]
    t = datetime(2026, 11, 20, 11, tzinfo=UTC).timestamp()
    assert marks == [t] * 3 + [t + 1920] * 3


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


def test_records_out_of_bounds_are_reported_and_stay_out_of_the_watermark(
        tmp_path: Path, producer: list[_FakeProducer]) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b"\n".join([_record(1, "2026-11-20T10:00:00Z"),
                                 _record(2, "2099-01-01T00:00:00Z")]))
    report = replay([path], "x:9092", "events", progress=False, bounds=BOUNDS)
    assert report.sent == 2 and report.invalid[0][1] == 2
    assert report.invalid[0][2].startswith("start_time out of bounds: 2099-01-01")
    marks = {decode_message(v).watermark for v, p in producer[0].sent if p is not None}
    assert marks == {datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()}
