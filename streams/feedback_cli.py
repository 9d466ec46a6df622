"""`cdrwatch feedback`: an analyst's verdict on an incident, produced to the feedback topic
(keyed by `alert_id`) or appended to a JSONL file for `detect --feedback` and `hotlist
export --feedback`."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from streams.usage import UsageError, describe, output_file

if TYPE_CHECKING:
    from streams.events import AnalystFeedback

SEND_TIMEOUT_S = 10.0
# "value": the model's own check, which is about the suppression
FLAGS = {"alert_id": "--alert", "verdict": "--verdict", "suppress_for": "--suppress-for",
         "at": "--at", "analyst": "--analyst", "note": "--note", "value": "--suppress-for"}
# ISO 8601 durations in weeks, days, hours, minutes and seconds (pydantic also reads "1 day",
# which an analyst's script should not come to rely on)
DURATION = re.compile(r"P(?=\d|T\d)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alert", required=True, metavar="ALERT_ID", help="the incident's alert_id")
    p.add_argument("--verdict", required=True, metavar="VERDICT",
                   help="confirmed or false_alarm (the latest --at per alert holds)")
    p.add_argument("--suppress-for", metavar="DURATION",
                   help="with false_alarm: drop the alerts of the incident's detector and key "
                   "whose window starts in the next DURATION (ISO 8601, e.g. P1D, PT6H)")
    p.add_argument("--at", metavar="RFC3339",
                   help="when it was decided; the suppression starts here (default: now)")
    p.add_argument("--analyst", metavar="NAME", help="who decided")
    p.add_argument("--note", metavar="TEXT", help="why")
    p.add_argument("--out", metavar="FEEDBACK.jsonl",
                   help="append the verdict to this file instead of producing it to Kafka")
    p.add_argument("--broker", help="Kafka URL, e.g. kafka://127.0.0.1:9092 (CDRWATCH_BROKER)")
    p.add_argument("--feedback-topic", help="verdicts topic (CDRWATCH_FEEDBACK_TOPIC)")
    p.set_defaults(func=run)


def verdict_of(args: argparse.Namespace) -> AnalystFeedback:
    """The record the flags describe, or a UsageError naming the flag at fault."""
    from pydantic import ValidationError

    from streams.events import AnalystFeedback

    if args.suppress_for is not None and not DURATION.fullmatch(args.suppress_for):
        raise UsageError(f"--suppress-for {args.suppress_for!r} is not an ISO 8601 duration, "
                         "e.g. P1D, PT6H, P1DT12H")
    doc = {"alert_id": args.alert, "verdict": args.verdict, "suppress_for": args.suppress_for,
           "at": args.at or datetime.now(tz=UTC), "analyst": args.analyst, "note": args.note}
    try:
        return AnalystFeedback.model_validate({k: v for k, v in doc.items() if v is not None})
    except ValidationError as exc:
        raise UsageError(describe(exc, FLAGS)) from None


def append(record: AnalystFeedback, out: Path) -> None:
    with out.open("ab") as fh:
        fh.write(record.model_dump_json().encode() + b"\n")


def produce(record: AnalystFeedback) -> str:
    """Send the verdict and wait for the broker's acknowledgement; the topic's name."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    from streams.broker import bootstrap_of, ensure_topics
    from streams.cli import BOOTSTRAP_TIMEOUT_MS, _reason, _sasl_hint, quiet_kafka_logs
    from streams.security import check_tls, kafka_python_kwargs
    from streams.usage import checked_settings

    settings = checked_settings()
    bootstrap = bootstrap_of(settings.broker)
    security = kafka_python_kwargs(settings)
    quiet_kafka_logs()
    try:
        check_tls(settings, bootstrap)
        ensure_topics(bootstrap, [settings.feedback_topic], settings.partitions, security,
                      bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **security)
        try:
            producer.send(settings.feedback_topic, key=record.alert_id.encode(),
                          value=record.model_dump_json().encode()).get(SEND_TIMEOUT_S)
        finally:
            producer.close()
    except (KafkaError, ConnectionError) as exc:
        raise UsageError(f"cannot reach the broker {settings.broker}: {_reason(exc)}"
                         f"{_sasl_hint(settings)}") from exc
    return settings.feedback_topic


def run(args: argparse.Namespace) -> int:
    record = verdict_of(args)
    if args.out:
        out = output_file(args.out, "--out")
        append(record, out)
        where = str(out)
    else:
        from streams.cli import _apply_env

        _apply_env(args)
        where = produce(record)
    shown = record.model_dump(mode="json")["suppress_for"]
    extra = f", suppressing its key for {shown}" if shown else ""
    print(f"{record.verdict} on {record.alert_id}{extra} -> {where}")
    return 0
