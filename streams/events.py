"""The data contract: CallEvent (CDR in), Watermark (end of data), Alert (out), DeadLetter,
what acts on an alert and an analyst's verdict on it; JSON (de)serialisation and the
event-time bounds a worker accepts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal, NamedTuple

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

IngressKind = Literal["international", "national", "mobile", "internal"]
Severity = Literal["info", "low", "medium", "high", "critical"]
AlertStatus = Literal["open", "update", "resolved"]
Direction = Literal["inbound", "outbound"]
Verdict = Literal["confirmed", "false_alarm"]


class CallEvent(BaseModel):
    """One call-detail record as a switch or mediation system publishes it."""

    model_config = ConfigDict(extra="allow", frozen=True, str_strip_whitespace=True)

    record_id: str = Field(min_length=1, max_length=128, description="unique per call")
    start_time: AwareDatetime = Field(description="call start, RFC 3339; the event time")
    answer_time: AwareDatetime | None = None
    end_time: AwareDatetime | None = None
    duration_s: float = Field(ge=0, le=7 * 86400, description="billed or connected seconds")
    answered: bool
    release_cause: int | None = Field(None, ge=0, le=127, description="Q.850 cause value")
    calling_number: str = Field(
        max_length=64,
        description='presented caller ID exactly as received ("+39...", "0039...", "anonymous")',
    )
    network_number: str | None = Field(None, max_length=64, description="P-Asserted-Identity")
    called_number: str = Field(min_length=1, max_length=64)
    ingress_trunk: str = Field(min_length=1, max_length=128)
    ingress_kind: IngressKind | None = Field(None, description="else from the policy trunk map")
    verstat: str | None = Field(None, max_length=64, description="STIR/SHAKEN verification status")
    attestation: Literal["A", "B", "C"] | None = None
    calling_roaming: bool | None = Field(None, description="caller known to be roaming abroad")
    direction: Direction = Field(
        "inbound", description="outbound: calling_number is the operator's subscriber and "
        "called_number the destination it dialled (the callback guard reads these only)")


class IncidentRef(BaseModel):
    """The incident another alert follows from (a callback names the one that flagged the
    number called): as the incident's own alert names it, so the two join."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str
    detector: str
    key: str


class Alert(BaseModel):
    """One explainable verdict: rule, key, window, observed vs baseline, the calls behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(description="sha256(detector|key|window_start)[:20]: stable on replay")
    detector: str
    severity: Severity
    score: float = Field(ge=0, le=1)
    status: AlertStatus = "open"
    key: str = Field(description='E.164 number or prefix with "+", or a subscriber number; '
                     '"pn:" + 16 hex digits under [privacy] pseudonymise')
    window_start: AwareDatetime
    window_end: AwareDatetime
    detected_at: AwareDatetime = Field(description="event time at which the detector fired")
    emitted_at: AwareDatetime | None = Field(None, description="wall clock at publication")
    observed: float
    baseline: float | None = None
    record_ids: list[str] = Field(default_factory=list, description="sample of the calls, capped")
    explanation: str
    # Left out of the JSON when absent: every other detector's lines stay as they were.
    incident: IncidentRef | None = Field(
        None, exclude_if=lambda v: v is None,
        description="callback_risk: the incident that flagged the number called")


class CallVerdict(BaseModel):
    """One call an incident covers: what a switch, a case tool or a warning system acts on.
    Published keyed by `record_id`; (`record_id`, `detector`) names it, so a redelivered
    copy is the same record again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record_id: str
    detector: str
    alert_id: str = Field(description="the incident's alert_id, as on the alerts topic")
    severity: Severity
    key: str = Field(description="the incident's key (caller ID, range, country, trunk...)")
    subscriber: str = Field(description="the called subscriber: E.164, else as presented")
    caller: str = Field(description="the caller ID the call came with")
    call_time: AwareDatetime = Field(description="the call's start_time")
    answered: bool
    duration_s: float


class SubscriberWarning(BaseModel):
    """What an SMS gateway or IVR system tells a subscriber who answered a call of an
    incident. `warning_id` is stable (subscriber and incident): a copy sent again after a
    crash is the same warning, for the gateway to drop."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["warning"] = Field("warning", description='"retraction" on the record that '
                                     "withdraws it (same warning_id)")
    warning_id: str = Field(description="sha256(subscriber|alert_id)[:20]")
    subscriber: str = Field(description="E.164 of the subscriber to warn")
    alert_id: str
    detector: str
    severity: Severity
    first_contact: AwareDatetime = Field(description="start of the call that warned them")
    record_id: str
    caller: str
    language: str
    reason: str = Field(description="the text to send, from the policy's templates")


class WarningRetraction(BaseModel):
    """Withdraws a SubscriberWarning after an analyst's false alarm: the same `warning_id`
    (and Kafka key), so a compacted topic's latest value for the warning is this."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["retraction"] = "retraction"
    warning_id: str = Field(description="the warning it withdraws")
    subscriber: str
    alert_id: str
    detector: str
    first_contact: AwareDatetime = Field(description="as on the warning")
    retracted_at: AwareDatetime = Field(description="the false-alarm verdict's `at`")


class AnalystFeedback(BaseModel):
    """An analyst's verdict on an incident (topic `cdr-feedback`, keyed by `alert_id`). Per
    `alert_id` the latest `at` holds: a later `confirmed` reverses a false alarm."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(min_length=1, max_length=128, description="as on the alerts topic")
    verdict: Verdict
    suppress_for: timedelta | None = Field(
        None, description="false_alarm only (ISO 8601 duration, e.g. P1D): no alert of the "
        "incident's detector and key whose window starts in [at, at + suppress_for)")
    at: AwareDatetime = Field(description="when the analyst decided; compared with the alerts' "
                              "event time")
    analyst: str | None = Field(None, max_length=128)
    note: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _suppression_of_a_false_alarm(self) -> AnalystFeedback:
        """A confirmed incident is no reason to stop looking at its key."""
        if self.suppress_for is not None:
            if self.verdict != "false_alarm":
                raise ValueError("suppress_for goes with a false_alarm verdict only")
            if self.suppress_for <= timedelta(0):
                raise ValueError("suppress_for must be a positive duration")
        return self


class DeadLetter(BaseModel):
    """A record the worker could not use, kept with everything needed to replay it."""

    model_config = ConfigDict(extra="forbid")

    reason: str
    original: str = Field(description="the original bytes, UTF-8 with replacement")
    source_topic: str
    source_partition: int
    source_offset: int
    index_in_batch: int | None = Field(None, description="position inside a JSON-array message")
    failed_at: AwareDatetime


class Watermark(BaseModel):
    """End of data on one partition: the source has delivered every record before this time.

    Only valid as a whole message, never inside a micro-batch array.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    watermark: AwareDatetime = Field(
        description="every record with an earlier start_time is already on this partition")


def alert_id(detector: str, key: str, window_start: datetime) -> str:
    return hashlib.sha256(f"{detector}|{key}|{window_start.isoformat()}".encode()).hexdigest()[:20]


class BadRecord(Exception):
    """A record that cannot become a CallEvent; `reason` is short and names the field."""

    def __init__(self, reason: str, raw: Any, index: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
        self.index = index


def _reason(exc: ValidationError, prefix: str = "invalid record") -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return f"{prefix}: " + "; ".join(parts)


def parse_record(obj: Any, index: int | None = None) -> CallEvent:
    if not isinstance(obj, dict):
        raise BadRecord(f"record is a JSON {type(obj).__name__}, not an object", obj, index)
    try:
        return CallEvent.model_validate(obj)
    except ValidationError as exc:
        raise BadRecord(_reason(exc), obj, index) from None


def _iso(ts: float) -> str:
    """A bound as RFC 3339 when a datetime can hold it (bounds may be built from any float)."""
    try:
        return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError, OSError):
        return f"{ts:.0f} s since the epoch"


# The tzinfo pydantic gives every UTC time it parses ("Z", "+00:00"): one shared object.
_PYDANTIC_UTC = TypeAdapter(AwareDatetime).validate_python("2000-01-01T00:00:00Z").tzinfo


_WIDEST = timedelta(hours=24) - timedelta(microseconds=1)  # the largest UTC offset there is


def _bound_datetime(ts: float) -> datetime:
    """`ts` to the microsecond in pydantic's UTC; past what a datetime holds, the first or
    last instant any datetime can name (year 1 at UTC+24h, year 9999 at UTC-24h).

    Two datetimes of one tzinfo object compare field by field; any other pair calls
    utcoffset() on each, as timestamp() does, and that costs a third of validating a record.
    """
    try:
        return datetime.fromtimestamp(ts, tz=UTC).replace(tzinfo=_PYDANTIC_UTC)
    except (OverflowError, ValueError, OSError):
        if ts > 0:
            return datetime.max.replace(tzinfo=timezone(-_WIDEST))
        return datetime.min.replace(tzinfo=timezone(_WIDEST))


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """The event times (POSIX seconds) a worker accepts: one switch with a bad clock must not
    move its partition's event time, close everyone's windows or pin state for years."""

    earliest: float
    latest: float
    # How a rejection names each bound; `around` says it relative to the wall clock.
    too_early: str = field(default="before the earliest accepted time", kw_only=True,
                           compare=False, repr=False)
    too_late: str = field(default="after the latest accepted time", kw_only=True,
                          compare=False, repr=False)
    first: datetime = field(init=False, compare=False, repr=False)
    last: datetime = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.earliest <= self.latest:  # NaN included
            raise ValueError(f"empty time bounds: {self.earliest} to {self.latest}")
        object.__setattr__(self, "first", _bound_datetime(self.earliest))
        object.__setattr__(self, "last", _bound_datetime(self.latest))

    @classmethod
    def around(cls, now: float, max_future_s: int, max_past_days: int) -> TimeBounds:
        """The policy's `[stream]` bounds around the wall clock `now`."""
        return cls(now - max_past_days * 86400.0, now + max_future_s,
                   too_early=f"more than {max_past_days} days before the wall clock",
                   too_late=f"more than {max_future_s} s ahead of the wall clock")

    def admits(self, when: datetime) -> bool:
        """Whether an aware datetime is within bounds, to the microsecond."""
        return self.first <= when <= self.last

    def breach(self, when: datetime | float) -> str | None:
        """Which bound `when` (a datetime or POSIX seconds) breaks, named with its value; None
        when within bounds."""
        late = when > self.last if isinstance(when, datetime) else when > self.latest
        if late:
            return f"{self.too_late} (limit {_iso(self.latest)})"
        early = when < self.first if isinstance(when, datetime) else when < self.earliest
        if early:
            return f"{self.too_early} (limit {_iso(self.earliest)})"
        return None


class Decoded(NamedTuple):
    """One message decoded: its valid events, its bad records, or an end-of-data watermark."""

    events: list[CallEvent]
    bad: list[BadRecord]
    watermark: float | None = None


WATERMARK_KEY = "watermark"
_IN_ARRAY = "invalid watermark: inside a JSON array (a watermark is a message of its own)"
_ALL_GOOD = TypeAdapter(list[CallEvent])


_FIRST_TS = datetime.min.replace(tzinfo=UTC).timestamp()
_LAST_TS = datetime.max.replace(tzinfo=UTC, microsecond=0).timestamp()


def watermark_message(ts: float) -> bytes:
    """The message that tells a partition's consumers: every record before `ts` is in.

    A time past year 9999 (a bogus record plus the longest window) says year 9999: still true.
    """
    when = datetime.fromtimestamp(min(max(ts, _FIRST_TS), _LAST_TS), tz=UTC)
    return Watermark(watermark=when).model_dump_json().encode()


def _fast(value: bytes) -> list[CallEvent] | None:
    """A clean message in one pass of pydantic's core (no Python dicts in between)."""
    try:
        if value[:1] == b"[":
            return _ALL_GOOD.validate_json(value) or None
        if value[:1] == b"{":
            return [CallEvent.model_validate_json(value)]
    except ValueError:  # ValidationError included: the slow path says which records and why
        pass
    return None


def _within(events: list[CallEvent], bounds: TimeBounds) -> bool:
    first, last = bounds.first, bounds.last
    for event in events:  # noqa: SIM110 -- all() over a generator costs 10x the comparison
        if not first <= event.start_time <= last:
            return False
    return True


def _is_record(obj: dict[str, Any]) -> bool:
    try:
        CallEvent.model_validate(obj)
    except ValidationError:
        return False
    return True


def _out_of_bounds(event: CallEvent, breach: str) -> str:
    return f"start_time out of bounds: {event.start_time.isoformat()} is {breach}"


def _split(value: bytes, events: list[CallEvent], bounds: TimeBounds) -> Decoded:
    """A valid message with some event times out of bounds: keep the others, and give each
    rejected one its original object (the whole message if only pydantic could parse it)."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        doc = None
    array = isinstance(doc, list) and len(doc) == len(events)
    good: list[CallEvent] = []
    bad: list[BadRecord] = []
    for i, event in enumerate(events):
        breach = bounds.breach(event.start_time)
        if breach is None:
            good.append(event)
            continue
        index = i if value[:1] == b"[" else None
        raw = doc[i] if array else (doc if isinstance(doc, dict) else value)
        bad.append(_writable(BadRecord(_out_of_bounds(event, breach), raw, index), value))
    return Decoded(good, bad)


def _checked(item: Any, index: int | None, bounds: TimeBounds | None) -> CallEvent:
    """One record of the slow path, valid and within bounds, or the BadRecord saying why."""
    try:
        event = parse_record(item, index)
    except BadRecord:
        if index is not None and isinstance(item, dict) and WATERMARK_KEY in item:
            raise BadRecord(_IN_ARRAY, item, index) from None
        raise
    breach = bounds.breach(event.start_time) if bounds else None
    if breach:
        raise BadRecord(_out_of_bounds(event, breach), item, index)
    return event


def _watermark(doc: dict[str, Any], value: bytes, bounds: TimeBounds | None) -> Decoded:
    try:
        mark = Watermark.model_validate(doc)
    except ValidationError as exc:
        return Decoded([], [_writable(BadRecord(_reason(exc, "invalid watermark"), doc), value)])
    ts = mark.watermark.timestamp()
    breach = bounds.breach(ts) if bounds else None
    if breach:  # a watermark from a bad clock would close every window: refused like a record
        reason = f"invalid watermark: out of bounds: {mark.watermark.isoformat()} is {breach}"
        return Decoded([], [BadRecord(reason, doc)])
    return Decoded([], [], ts)


def _writable(bad: BadRecord, value: bytes) -> BadRecord:
    """A bad record whose object cannot be written back as JSON (nested deeper than orjson
    writes) carries the whole message instead: a dead letter must never fail to serialise."""
    try:
        orjson.dumps(bad.raw)
    except TypeError:  # orjson.JSONEncodeError included
        bad.raw = value
    return bad


def _slow(value: bytes, bounds: TimeBounds | None) -> Decoded:
    """Record by record, naming each bad one's index and reason."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Decoded([], [BadRecord(f"not JSON: {exc}", value)])
    if isinstance(doc, list) and not doc:
        return Decoded([], [BadRecord("empty JSON array", value)])
    if isinstance(doc, dict) and WATERMARK_KEY in doc and not _is_record(doc):
        return _watermark(doc, value, bounds)
    items: list[tuple[int | None, Any]] = (
        list(enumerate(doc)) if isinstance(doc, list) else [(None, doc)])
    good: list[CallEvent] = []
    bad: list[BadRecord] = []
    for i, item in items:
        try:
            good.append(_checked(item, i, bounds))
        except BadRecord as exc:
            bad.append(_writable(exc, value))
    return Decoded(good, bad)


def decode_message(value: bytes, bounds: TimeBounds | None = None) -> Decoded:
    """One Kafka message value: a JSON object, a JSON array (micro-batch) of objects, or a
    watermark object (`{"watermark": T}`, end of data before T on this partition).

    A clean message is validated in one pass of pydantic's core and its event times checked
    after it, one comparison per record; only a message with an invalid record (or a
    watermark) takes the record-by-record path that names each one's index and reason.
    An object with a `watermark` key is a watermark unless it is a valid CallEvent (a vendor
    field may bear the name). `bounds` None accepts any event time.
    """
    fast = _fast(value)
    if fast is None:
        return _slow(value, bounds)
    if bounds is None or _within(fast, bounds):
        return Decoded(fast, [])
    return _split(value, fast, bounds)


def dump_alert(alert: Alert) -> bytes:
    return orjson.dumps(alert.model_dump(mode="json"))


def load_alert(value: bytes | str) -> Alert:
    return Alert.model_validate_json(value)
