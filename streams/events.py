"""The data contract: CallEvent (CDR in), Alert (out), DeadLetter; JSON (de)serialisation."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

IngressKind = Literal["international", "national", "mobile", "internal"]
Severity = Literal["info", "low", "medium", "high", "critical"]
AlertStatus = Literal["open", "update", "resolved"]


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


class Alert(BaseModel):
    """One explainable verdict: rule, key, window, observed vs baseline, the calls behind it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert_id: str = Field(description="sha256(detector|key|window_start)[:20]: stable on replay")
    detector: str
    severity: Severity
    score: float = Field(ge=0, le=1)
    status: AlertStatus = "open"
    key: str = Field(description='E.164 number or prefix with "+", or a subscriber number')
    window_start: AwareDatetime
    window_end: AwareDatetime
    detected_at: AwareDatetime = Field(description="event time at which the detector fired")
    emitted_at: AwareDatetime | None = Field(None, description="wall clock at publication")
    observed: float
    baseline: float | None = None
    record_ids: list[str] = Field(default_factory=list, description="sample of the calls, capped")
    explanation: str


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


def alert_id(detector: str, key: str, window_start: datetime) -> str:
    return hashlib.sha256(f"{detector}|{key}|{window_start.isoformat()}".encode()).hexdigest()[:20]


class BadRecord(Exception):
    """A record that cannot become a CallEvent; `reason` is short and names the field."""

    def __init__(self, reason: str, raw: Any, index: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw
        self.index = index


def _reason(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "invalid record: " + "; ".join(parts)


def parse_record(obj: Any, index: int | None = None) -> CallEvent:
    if not isinstance(obj, dict):
        raise BadRecord(f"record is a JSON {type(obj).__name__}, not an object", obj, index)
    try:
        return CallEvent.model_validate(obj)
    except ValidationError as exc:
        raise BadRecord(_reason(exc), obj, index) from None


_ALL_GOOD = TypeAdapter(list[CallEvent])


def decode_message(value: bytes) -> tuple[list[CallEvent], list[BadRecord]]:
    """One Kafka message value: a JSON object or a JSON array (micro-batch) of objects.

    A clean message is parsed and validated in one pass of pydantic's core (no Python dicts
    in between); only a message with a bad record takes the record-by-record path that
    names each one's index and reason.
    """
    try:
        if value[:1] == b"[":
            good = _ALL_GOOD.validate_json(value)
            if good:
                return good, []
        elif value[:1] == b"{":
            return [CallEvent.model_validate_json(value)], []
    except ValueError:  # ValidationError included: fall back to find which records and why
        pass
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [], [BadRecord(f"not JSON: {exc}", value)]
    items = doc if isinstance(doc, list) else [doc]
    if isinstance(doc, list) and not doc:
        return [], [BadRecord("empty JSON array", value)]
    good: list[CallEvent] = []
    bad: list[BadRecord] = []
    for i, item in enumerate(items):
        try:
            good.append(parse_record(item, i if isinstance(doc, list) else None))
        except BadRecord as exc:
            bad.append(exc)
    return good, bad


def dump_alert(alert: Alert) -> bytes:
    return orjson.dumps(alert.model_dump(mode="json"))


def load_alert(value: bytes | str) -> Alert:
    return Alert.model_validate_json(value)
