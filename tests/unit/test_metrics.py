"""Metrics on a fresh registry: names with units, bounded labels, primed children."""

from __future__ import annotations

import os

import pytest
from prometheus_client import CollectorRegistry

from streams.metrics import Metrics, reject_reason


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def test_counters_count_and_end_in_total(metrics: Metrics) -> None:
    metrics.events.inc(3)
    metrics.rejected.labels(reason="not_json").inc()
    reg = metrics.registry
    assert reg.get_sample_value("cdrwatch_events_consumed_total") == 3
    assert reg.get_sample_value("cdrwatch_events_rejected_total", {"reason": "not_json"}) == 1
    assert reg.get_sample_value("cdrwatch_events_rejected_total", {"reason": "empty_batch"}) == 0


def test_priming_creates_every_known_child_at_zero(metrics: Metrics) -> None:
    metrics.prime(["burst_range"], ["spoof_protected"], ["burst_range"])
    reg = metrics.registry
    labels = {"detector": "burst_range", "severity": "high", "status": "open"}
    assert reg.get_sample_value("cdrwatch_alerts_total", labels) == 0
    assert reg.get_sample_value("cdrwatch_spoofing_verdicts_total",
                                {"rule": "spoof_protected"}) == 0
    assert reg.get_sample_value("cdrwatch_late_events_total", {"family": "burst_range"}) == 0


def test_histogram_has_explicit_buckets_in_seconds(metrics: Metrics) -> None:
    metrics.event_seconds.observe(3e-6)
    reg = metrics.registry
    assert reg.get_sample_value("cdrwatch_event_processing_seconds_bucket", {"le": "5e-06"}) == 1
    assert reg.get_sample_value("cdrwatch_event_processing_seconds_bucket", {"le": "1e-06"}) == 0


def test_no_metric_takes_a_phone_number_label(metrics: Metrics) -> None:
    allowed = {"reason", "detector", "severity", "status", "rule", "family", "topic",
               "partition", "table", "country_code", "version", "policy_hash", "le",
               "action"}
    for family in metrics.registry.collect():
        for sample in family.samples:
            assert set(sample.labels) <= allowed, (family.name, sample.labels)


@pytest.mark.parametrize(("reason", "label"), [
    ("not JSON: unexpected character", "not_json"),
    ("record is a JSON int, not an object", "not_object"),
    ("empty JSON array", "empty_batch"),
    ("invalid record: called_number: Field required", "invalid_field"),
])
def test_rejection_reasons_fold_into_a_bounded_label_set(reason: str, label: str) -> None:
    assert reject_reason(reason) == label


def test_metrics_listen_on_loopback_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    from streams.settings import Settings

    for name in [n for n in os.environ if n.startswith("CDRWATCH_")]:
        monkeypatch.delenv(name)
    assert ipaddress.ip_address(Settings().metrics_host).is_loopback
    monkeypatch.setenv("CDRWATCH_METRICS_HOST", "0.0.0.0")
    assert Settings().metrics_host == "0.0.0.0"
