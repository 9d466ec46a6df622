"""Hostile messages against decode_message: it must never raise, and every record it is given
comes out either as an event (within bounds) or as a BadRecord with a reason and its raw input,
so that the worker can dead-letter it; no valid record is lost beside bad ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.events import CallEvent, Decoded, TimeBounds, decode_message, watermark_message

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
BOUNDS = TimeBounds.around(NOW.timestamp(), max_future_s=3600, max_past_days=3650)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = ["record_id", "start_time", "answer_time", "end_time", "duration_s", "answered",
          "release_cause", "calling_number", "network_number", "called_number", "ingress_trunk",
          "ingress_kind", "verstat", "attestation", "calling_roaming"]

# ------------------------------------------------------------------------------ strategies


def _offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(_offset)  # RFC 3339: whole minutes
in_bounds = st.datetimes(min_value=NOW.replace(tzinfo=None) - timedelta(days=30),
                         max_value=NOW.replace(tzinfo=None) + timedelta(minutes=30),
                         timezones=st.just(UTC))
# Any datetime a datetime can hold, aware (any offset) or naive: years 1 to 9999.
any_datetime = st.datetimes(timezones=st.none() | st.just(UTC) | offsets)
hostile_times: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00+23:59",
                     "9999-12-31T23:59:59-23:59", "1970-01-01T00:00:00Z", "2026-11-20T10:00:00",
                     "2026-11-20", "10000-01-01T00:00:00Z", "yesterday", "", "2026-13-45T99:00Z"]),
    any_datetime.map(datetime.isoformat),
    st.sampled_from([0, -1, 1e308, -1e308, 10**30, -(10**30), 253402300800, 1.7e12, 2**63]),
)


def _huge(char: str, n: int) -> str:
    return char * n


huge_strings = st.builds(_huge, st.sampled_from("x\x00\u00e9\U0001f4de "),
                         st.sampled_from([10**5, 10**5 + 1]))
control_strings = st.text(st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u2028\ufeff"),
                          min_size=1, max_size=8)
hostile_values: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False,
                                                                   allow_infinity=False),
              st.sampled_from([10**30, -(10**30), 1e308, -1e308, 2**64, 5e-324]),
              st.text(max_size=20), huge_strings, control_strings, hostile_times),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=6)


_durations = st.floats(min_value=0, max_value=7 * 86400, allow_nan=False)
_callers = st.sampled_from(["+393201010086", "0039320101", "anonymous", ""])
_trunks = st.sampled_from(["INTL-BICS-1", "NAT-TIM-1"])
_zulu = st.sampled_from(["Z", "+00:00"])
_extras = st.dictionaries(st.sampled_from(["vendor", "x_seq"]), st.integers(0, 9), max_size=2)


@st.composite
def valid_records(draw: st.DrawFn, tag: str = "ok") -> dict[str, Any]:
    """A record the contract accepts and whose start_time is within BOUNDS."""
    return {
        "record_id": f"{tag}-{draw(st.integers(0, 10**6))}",
        "start_time": draw(in_bounds).isoformat().replace("+00:00", draw(_zulu)),
        "duration_s": draw(_durations),
        "answered": draw(st.booleans()),
        "calling_number": draw(_callers),
        "called_number": "3331234567",
        "ingress_trunk": draw(_trunks),
        **draw(_extras),
    }


def _not_dict(value: Any) -> bool:
    return not isinstance(value, dict)


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


good_records = valid_records()
_spoilt = valid_records(tag="bad")
_not_objects = (st.lists(valid_records(tag="nested"), min_size=1, max_size=2)
                | hostile_values.filter(_not_dict))
_kinds = st.sampled_from(["fields", "time", "missing", "not_object"])
_names = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)


@st.composite
def _hostile_records(draw: st.DrawFn) -> Any:
    """A record with fields of the wrong type, out-of-range times, huge values; or no object."""
    kind = draw(_kinds)
    if kind == "not_object":
        return draw(_not_objects)
    record = draw(_spoilt)
    if kind == "time":
        record["start_time"] = draw(hostile_times)
    elif kind == "missing":
        for name in draw(_names):
            record.pop(name, None)
    else:
        record.update({name: draw(hostile_values) for name in draw(_names)})
    return record


hostile_records = _hostile_records()
_shapes = st.sampled_from(["one_good", "one_bad", "array", "array", "array", "scalar"])
_items = st.lists(st.tuples(st.booleans(), good_records, hostile_records), max_size=8)
_scalars = hostile_values.filter(_scalar)


@st.composite
def documents(draw: st.DrawFn) -> tuple[Any, set[int]]:
    """A message document, and the array indexes (or -1: the object) built valid and in bounds."""
    shape = draw(_shapes)
    if shape == "one_good":
        return draw(good_records), {-1}
    if shape == "one_bad":
        return draw(hostile_records), set()
    if shape == "scalar":
        return draw(_scalars), set()
    items = draw(_items)
    doc = [good if use_good else bad for use_good, good, bad in items]
    return doc, {i for i, (use_good, _, _) in enumerate(items) if use_good}


def encode(doc: Any, ascii_only: bool) -> bytes:
    """Standard JSON as any producer writes it: big ints stay ints, control characters escaped."""
    return json.dumps(doc, ensure_ascii=ascii_only, allow_nan=False).encode("utf-8",
                                                                          "surrogatepass")


_documents = documents()
_manglings = st.sampled_from(["binary", "cut", "non_utf8", "raw_nul", "padded", "nested"])
_junk = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """Bytes that are not a clean message: garbage, cut short, invalid UTF-8, raw NUL."""
    how = draw(_manglings)
    if how == "binary":
        return draw(st.binary(max_size=300))
    value = encode(draw(_documents)[0], ascii_only=False)
    at = draw(st.integers(0, len(value)))
    if how == "cut":
        return value[:at]
    if how == "non_utf8":
        junk = draw(_junk)
        return value[:at] + junk + value[at:]
    if how == "raw_nul":
        return value.replace(b'"', b'"\x00', 1)
    if how == "padded":  # leading whitespace: valid JSON, but not the fast path's first byte
        return b" \n" + value
    return b"[" * draw(st.integers(1, 300)) + value + b"]" * draw(st.integers(0, 300))


# ------------------------------------------------------------------------------ properties


def _within(event: CallEvent, bounds: TimeBounds | None) -> bool:
    ts = event.start_time.timestamp()
    return bounds is None or bounds.earliest <= ts <= bounds.latest


def check(value: bytes, bounds: TimeBounds | None) -> Decoded:
    """Decode and assert what holds for any input; returns the result for more checks."""
    decoded = decode_message(value, bounds)
    events, bad, mark = decoded
    assert all(isinstance(e, CallEvent) and e.start_time.tzinfo is not None for e in events)
    assert all(_within(e, bounds) for e in events)
    for b in bad:
        assert isinstance(b.reason, str) and b.reason.strip()
        if not isinstance(b.raw, bytes):
            orjson.dumps(b.raw)  # the dead-letter writer serialises it back
    if mark is not None:
        assert events == [] and bad == []
        assert bounds is None or bounds.earliest <= mark <= bounds.latest
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:  # one "not JSON" record, unless pydantic's parser read it
        assert events or bad
        assert all(b.raw == value for b in bad)
        if any(b.reason.startswith("not JSON") for b in bad):
            assert events == [] and len(bad) == 1
        return decoded
    if isinstance(doc, list) and doc:
        assert len(events) + len(bad) == len(doc)
        indexes = [b.index for b in bad]
        assert all(i is not None and 0 <= i < len(doc) for i in indexes)
        assert indexes == sorted(set(indexes))
        assert all(b.raw == doc[b.index] or b.raw == value for b in bad)
    elif isinstance(doc, list) or mark is None:
        assert len(events) + len(bad) == 1
        assert all(b.index is None and b.raw in (doc, value) for b in bad)
    else:
        assert isinstance(doc, dict) and set(doc) == {"watermark"}
    return decoded


def check_bounds_only_filter(value: bytes) -> None:
    """The bounds take records away and never change one: the same events, minus those out."""
    free, bounded = check(value, None), check(value, BOUNDS)
    assert bounded.events == [e for e in free.events if _within(e, BOUNDS)]
    assert bounded.watermark in (None, free.watermark)
    refused = len(free.events) - len(bounded.events) + (bounded.watermark != free.watermark)
    assert len(bounded.bad) == len(free.bad) + refused


@FUZZ
@given(_documents, st.booleans())
def test_every_record_is_an_event_or_a_bad_record(case: tuple[Any, set[int]],
                                                  ascii_only: bool) -> None:
    doc, valid = case
    value = encode(doc, ascii_only)
    check_bounds_only_filter(value)
    events, bad, mark = decode_message(value, BOUNDS)
    assert mark is None
    if isinstance(doc, list):
        expected = [doc[i]["record_id"] for i in sorted(valid)]
        ids = [e.record_id for e in events]
        assert all(record_id in ids for record_id in expected)  # none lost beside bad ones
        assert not ({b.index for b in bad} & valid)
    elif valid:
        assert [e.record_id for e in events] == [doc["record_id"]] and bad == []


@FUZZ
@given(mangled())
def test_mangled_bytes_never_raise_and_are_dead_lettered(value: bytes) -> None:
    check_bounds_only_filter(value)


_marks = st.sampled_from(["valid", "value", "extra", "in_array"])
_mark_zones = st.just(UTC) | offsets
_mark_values = hostile_values | hostile_times
_extra_keys = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "watermark"),
                              hostile_values, min_size=1, max_size=3)


@st.composite
def watermark_docs(draw: st.DrawFn) -> tuple[Any, float | None]:
    """A watermark message, valid (with its time) or malformed; or one inside an array."""
    how = draw(_marks)
    start = draw(in_bounds)
    if how == "valid":
        return {"watermark": start.astimezone(draw(_mark_zones)).isoformat()}, start.timestamp()
    if how == "value":
        return {"watermark": draw(_mark_values)}, None
    if how == "extra":
        return {"watermark": start.isoformat(), **draw(_extra_keys)}, None
    return [orjson.loads(watermark_message(start.timestamp())), draw(good_records)], None


@FUZZ
@given(watermark_docs())
def test_watermarks_are_exact_or_dead_lettered(case: tuple[Any, float | None]) -> None:
    doc, expected = case
    value = encode(doc, ascii_only=False)
    check_bounds_only_filter(value)
    events, bad, mark = check(value, BOUNDS)
    if expected is not None:
        assert (events, bad, mark) == ([], [], expected)
    elif isinstance(doc, list):
        assert [e.record_id for e in events] == [doc[1]["record_id"]]
        assert bad[0].index == 0 and bad[0].reason.startswith("invalid watermark: ")
    elif mark is None and not events:
        assert bad[0].reason.startswith(("invalid watermark: ", "invalid record: "))
