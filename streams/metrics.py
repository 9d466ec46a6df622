"""All Prometheus metrics in one object, built on a registry passed in.

Labels are bounded (detector, rule, reason, country code, table, partition); a phone number
is never a label.
"""

from __future__ import annotations

from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from streams.events import AlertStatus, Severity, Verdict

PREFIX = "cdrwatch"
EVENT_BUCKETS = (1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3, 1e-2)
BATCH_BUCKETS = (1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5)
WARNING_OUTCOMES = ("issued", "already_warned", "daily_cap", "allowlisted", "short_call",
                    "suppressed", "retracted", "reinstated")
REJECT_REASONS = ("not_json", "not_object", "invalid_field", "empty_batch", "out_of_bounds",
                  "invalid_watermark", "internal")


class Metrics:
    """The worker's metrics; tests build one on a fresh CollectorRegistry."""

    def __init__(self, registry: CollectorRegistry | None = None, prefix: str = PREFIX) -> None:
        self.registry = registry or CollectorRegistry()
        r, p = self.registry, prefix
        self.messages = Counter(f"{p}_messages_consumed", "Kafka messages read", registry=r)
        self.events = Counter(f"{p}_events_consumed", "CDRs read (array items count)", registry=r)
        self.valid = Counter(f"{p}_events_valid", "CDRs that passed validation", registry=r)
        self.rejected = Counter(
            f"{p}_events_rejected", "CDRs rejected, by reason", ["reason"], registry=r
        )
        self.dead_letters = Counter(
            f"{p}_dead_letters", "records published to the dead-letter topic", registry=r
        )
        self.alerts = Counter(
            f"{p}_alerts", "alerts emitted", ["detector", "severity", "status"], registry=r
        )
        self.open_alerts = Gauge(f"{p}_open_alerts", "alerts open now", ["detector"], registry=r)
        self.verdicts = Counter(
            f"{p}_spoofing_verdicts", "per-call spoofing verdicts, by rule", ["rule"], registry=r
        )
        self.covered = Counter(
            f"{p}_call_verdicts", "per-call verdicts published: calls an incident covers, "
            "by detector", ["detector"], registry=r,
        )
        self.warnings = Counter(
            f"{p}_warnings", "verdicts of answered calls judged for a subscriber warning, by "
            "outcome (issued, already_warned, daily_cap, allowlisted, short_call, suppressed), "
            "and warnings retracted or reinstated after an analyst's verdict", ["outcome"],
            registry=r,
        )
        self.alerts_suppressed = Counter(
            f"{p}_alerts_suppressed", "alerts not published: an analyst's false alarm "
            "suppressed their detector and key", ["detector"], registry=r,
        )
        self.feedback_incidents = Gauge(
            f"{p}_feedback_incidents", "incidents by the analysts' latest verdict on them, "
            "from the whole feedback topic (each worker shows the same)", ["detector", "verdict"],
            registry=r,
        )
        self.feedback_rejected = Counter(
            f"{p}_feedback_rejected", "records of the feedback topic that are not an analyst's "
            "verdict (counted each time they are read)", registry=r,
        )
        self.feedback_unmatched = Gauge(
            f"{p}_feedback_unmatched", "incidents with an analyst's verdict whose alert is not "
            "on the alerts topic (a mistyped alert_id, or past its retention)", registry=r,
        )
        self.withheld = Counter(
            f"{p}_withheld_callers", "calls with a withheld/anonymous caller ID", registry=r
        )
        self.unmapped_trunk = Counter(
            f"{p}_unmapped_trunk_calls", "calls on a trunk the policy's trunk map lacks, "
            "without ingress_kind: read as national", registry=r,
        )
        self.misdeclared_format = Gauge(
            f"{p}_trunk_number_format_misdeclared", "1 for a trunk whose bare-digit caller "
            "IDs are mostly invalid under its declared number format but valid under `format` "
            "(`none`: valid under no format of home_country)",
            ["trunk", "declared", "format"], registry=r,
        )
        self.suppressed = Counter(
            f"{p}_allowlist_suppressions", "verdicts suppressed by the allowlist", ["rule"],
            registry=r,
        )
        self.late = Counter(
            f"{p}_late_events", "records beyond allowed lateness, not counted", ["family"],
            registry=r,
        )
        self.duplicates = Counter(
            f"{p}_duplicate_events", "records whose record_id a window had already counted",
            ["family"], registry=r,
        )
        self.redelivered = Counter(
            f"{p}_redelivered_events", "records redelivered from a source position a key had "
            "already folded (at-least-once replays after a crash or a rebalance)", ["family"],
            registry=r,
        )
        self.unmarked = Counter(
            f"{p}_unmarked_calls", "calls a window could not keep for a verdict (it already "
            "kept 4,096 not yet covered): an incident covering it gives them none", ["family"],
            registry=r,
        )
        self.unjudged = Counter(
            f"{p}_unjudged_callbacks", "outbound calls a flagging key could not hold until "
            "they could be judged (it already held 1,024): no callback_risk alert for them",
            ["family"], registry=r,
        )
        self.internal_errors = Counter(
            f"{p}_internal_errors", "exceptions caught in an agent or a timer, by where",
            ["where"], registry=r,
        )
        self.holes = Counter(
            f"{p}_offset_holes", "runs of keyed offsets that never reached the agent",
            registry=r,
        )
        self.watermark = Gauge(
            f"{p}_event_time_watermark_seconds", "event time up to which keyed windows may "
            "close, by keyed partition", ["partition"], registry=r,
        )
        self.event_seconds = Histogram(
            f"{p}_event_processing_seconds", "detection time per CDR", buckets=EVENT_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            f"{p}_batch_processing_seconds", "time per take() batch", buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.event_lag = Gauge(
            f"{p}_event_time_lag_seconds", "wall clock minus event time of the last CDR",
            registry=r,
        )
        self.consumer_lag = Gauge(
            f"{p}_consumer_lag_messages", "high watermark minus committed offset",
            ["topic", "partition"], registry=r,
        )
        self.table_keys = Gauge(
            f"{p}_table_keys", "keys held in a state table", ["table"], registry=r
        )
        self.window_calls = Gauge(
            f"{p}_window_calls", "international calls in the current window, by source country",
            ["country_code"], registry=r,
        )
        self.window_baseline = Gauge(
            f"{p}_window_baseline_calls", "baseline calls per window, by source country",
            ["country_code"], registry=r,
        )
        self.hotlist_entries = Gauge(
            f"{p}_hotlist_entries", "numbers and ranges on the switch's hotlist, by action",
            ["action"], registry=r,
        )
        self.hotlist_skipped = Counter(
            f"{p}_hotlist_skipped_alerts", "alerts of a blockable detector left off the "
            "hotlist, by reason (pseudonymised, not_e164, not_an_alert)", ["reason"], registry=r,
        )
        self.info = Info(f"{p}_worker", "version and policy of this worker", registry=r)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)
        for action in ("block", "label"):
            self.hotlist_entries.labels(action=action)
        for reason in ("pseudonymised", "not_e164", "not_an_alert"):
            self.hotlist_skipped.labels(reason=reason)

    def prime(self, detectors: list[str], rules: list[str], families: list[str]) -> None:
        """Create every known label child at 0, so the first increments show in rate()."""
        for detector in detectors:
            self.open_alerts.labels(detector=detector)
            self.covered.labels(detector=detector)
            for severity in get_args(Severity):
                for status in get_args(AlertStatus):
                    self.alerts.labels(detector, severity, status)
        for rule in rules:
            self.verdicts.labels(rule=rule)
            self.suppressed.labels(rule=rule)
        for family in families:
            self.late.labels(family=family)
            self.duplicates.labels(family=family)
            self.redelivered.labels(family=family)
            self.unmarked.labels(family=family)
            self.unjudged.labels(family=family)
        for detector in detectors:
            self.alerts_suppressed.labels(detector=detector)
            for verdict in get_args(Verdict):
                self.feedback_incidents.labels(detector, verdict)
        for outcome in WARNING_OUTCOMES:
            self.warnings.labels(outcome=outcome)
        for where in ("ingest", "keyed", "timer", "warnings", "hotlist"):
            self.internal_errors.labels(where=where)


def reject_reason(reason: str) -> str:
    """Fold a free-text rejection reason into the bounded label set."""
    if reason.startswith("not JSON"):
        return "not_json"
    if reason.startswith("record is a JSON"):
        return "not_object"
    if reason.startswith("empty"):
        return "empty_batch"
    if reason.startswith("start_time out of bounds"):
        return "out_of_bounds"
    if reason.startswith("invalid watermark"):
        return "invalid_watermark"
    if reason.startswith("internal"):
        return "internal"
    return "invalid_field"
