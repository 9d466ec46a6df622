"""A real Prometheus scrapes a real worker fed the demo: every dashboard and rule query answers.

The unit tests check names against streams/metrics.py; only a live scrape shows that the
worker really exports each series, with the labels and values the queries assume.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, get_args

import pytest

from streams.broker import free_port, stop_process
from streams.events import AlertStatus, AnalystFeedback, load_alert
from tests.conftest import ROOT, consume, load_dashboards, produce

pytestmark = pytest.mark.integration

DEMO = ROOT / "streams" / "fixtures" / "demo.jsonl"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
PARTITIONS = 2
# Malformed records appended to the demo: 500 of 5,942 (8.4%) is above the 5% of
# CdrwatchDeadLetterRateHigh, so that rule's condition is true here and must say so.
BAD_RECORDS = 500
SELECTOR = re.compile(r"\b(cdrwatch_[a-z0-9_]+|up(?=\{))(\{[^}]*\})?")

# Dashboard queries that may return no series on this input, and why. Every other query
# must return a vector of at least one series.
MAY_BE_EMPTY = {
    "late_events_rate": "the demo is in event-time order, but the keyed topic interleaves "
    "the events partitions as fast as each is read, so whether a record falls behind the "
    "allowed lateness depends on timing; the count is printed, neither required nor forbidden",
    "allowlist_suppressions_rate": "only calls of allowlisted trunks/numbers are suppressed; "
    "whether the demo has any depends on the generator, not on the pipeline",
}
# Rates over counters that exist (at 0) before the first event, so the replay shows in them.
# A labelled counter whose child is born on its first increment (verdicts by rule, alerts by
# detector) has its first scraped sample at the value already reached, and rate() can be 0.
RISING = {
    "messages_consumed_rate", "events_consumed_rate", "events_valid_rate",
    "events_rejected_rate", "dead_letter_rate", "withheld_callers_rate", "batches_rate",
}
# Whether each alert's condition holds after this replay (the `for:` delay aside).
RULE_CONDITION = {
    "CdrwatchWorkerDown": False,  # the worker is up and scraped
    "CdrwatchConsumerLagGrowing": False,  # the worker caught up: lag is 0, far below 1000
    "CdrwatchDeadLetterRateHigh": True,  # BAD_RECORDS are 8.4% of what was consumed
    "CdrwatchNoEvents": False,  # events were consumed within the 5m window
    "CdrwatchAlertStorm": False,  # the demo opens 2 alerts per detector, far below 100/5m
    "CdrwatchUnmappedTrunk": False,  # every demo trunk is in the default policy's [trunks]
    "CdrwatchTrunkNumberFormat": False,  # the demo's trunks log numbers as they declare
}
# Rules over a gauge that has no series until its condition occurs (a trunk judged
# mis-declared); their firing is checked by promtool in deploy/prometheus/rules_test.yml.
RULE_MAY_BE_EMPTY = {"CdrwatchTrunkNumberFormat"}


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    path = shutil.which("prometheus") or "/usr/bin/prometheus"
    if Path(path).exists():
        return path
    if os.environ.get("CI"):
        pytest.fail("prometheus not found but CI is set: install Debian's `prometheus` package")
    pytest.skip("prometheus not installed (apt-get install prometheus); with CI set this fails")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


class Prometheus:
    """A Prometheus server on a free port, scraping one worker every second."""

    def __init__(self, binary: str, tmp_path: Path, metrics_port: int) -> None:
        self.port = free_port()
        self.log_path = tmp_path / "prometheus.log"
        config = tmp_path / "prometheus.yml"
        # JSON is YAML: no YAML library needed to write the config.
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [{
                "job_name": "cdrwatch",
                "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}],
            }],
        }), encoding="utf-8")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
                stdout=log, stderr=subprocess.STDOUT,
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready: {self.log_path.read_text()[-3000:]}")

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query now; fails on a PromQL error or a non-vector result."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            body = _get(url)
        except urllib.error.HTTPError as exc:
            pytest.fail(f"query {expr!r} rejected: {exc.read().decode(errors='replace')}")
        assert body["status"] == "success", f"{expr}: {body}"
        assert body["data"]["resultType"] == "vector", f"{expr}: {body['data']['resultType']}"
        return body["data"]["result"]

    def scalar(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def fewest_samples(self, range_selector: str) -> int:
        """The sample count of the series with the fewest samples in the range."""
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': range_selector})}"
        series = _get(url)["data"]["result"]
        return min((len(s["values"]) for s in series), default=0)

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout_s}s waiting for {what}")

    def rules(self) -> list[dict[str, Any]]:
        return [r for g in _get(f"{self.url}/api/v1/rules")["data"]["groups"] for r in g["rules"]]

    def stop(self) -> None:
        stop_process(self.proc, timeout_s=10)


def _exported_samples(metrics_port: int) -> set[str]:
    """Series names the worker's exposition declares, with or without samples yet."""
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
        text = r.read().decode()
    names = {"up"}
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        suffixes = ("_bucket", "_sum", "_count") if kind == "histogram" else ("",)
        names.update(name + s for s in suffixes)
    return names


@pytest.fixture
def scraped(make_worker: Callable[..., Any], prometheus_bin: str,
            tmp_path: Path) -> Iterator[tuple[Prometheus, set[str]]]:
    """A worker that processed the demo (plus bad records), scraped until it caught up."""
    worker = make_worker(partitions=PARTITIONS)
    prom = Prometheus(prometheus_bin, tmp_path, worker.metrics_port)
    try:
        prom.wait_ready()
        # A sample before the replay: without it every counter starts at its final value
        # and each rate() is 0, a shape that would hide a query reading the wrong series.
        prom.wait_for("a scrape of the idle worker", lambda: prom.scalar(
            'sum(cdrwatch_events_consumed_total{job="cdrwatch"})') == 0, timeout_s=15)
        lines = [line for line in DEMO.read_bytes().splitlines() if line.strip()]
        bad = [b"not json: call from +393201010086"] * BAD_RECORDS
        produce(worker.bootstrap, worker.names["events"], lines + bad)
        total = len(lines) + BAD_RECORDS
        prom.wait_for(f"{total} events consumed and scraped", lambda: (
            prom.scalar('sum(cdrwatch_events_consumed_total{job="cdrwatch"})') or 0) >= total,
            timeout_s=45)
        # An analyst confirms one incident: the precision query and rule then have a series.
        first = load_alert(consume(worker.bootstrap, worker.names["alerts"], idle_s=2)[0])
        verdict = AnalystFeedback(alert_id=first.alert_id, verdict="confirmed",
                                  at=first.detected_at)
        produce(worker.bootstrap, worker.names["feedback"], [verdict.model_dump_json().encode()])
        prom.wait_for("the verdict read and scraped", lambda: prom.scalar(
            'sum(cdrwatch_feedback_incidents{verdict="confirmed"})') == 1, timeout_s=30)
        prom.wait_for("lag of every partition scraped, and 0", lambda: prom.scalar(
            "count(cdrwatch_consumer_lag_messages)") == 2 * PARTITIONS and prom.scalar(
            "sum(cdrwatch_consumer_lag_messages)") == 0, timeout_s=20)
        # rate() needs two samples of a series; labelled series are born mid-run (alerts).
        prom.wait_for("3 samples of every series", lambda: prom.fewest_samples(
            '{__name__=~"cdrwatch_.+"}[1m]') >= 3, timeout_s=15)
        prom.wait_for("every rule evaluated", lambda: all(
            r["health"] != "unknown" for r in prom.rules()), timeout_s=10)
        yield prom, _exported_samples(worker.metrics_port)
    finally:
        prom.stop()


def _check_selectors(prom: Prometheus, exported: set[str], name: str, expr: str,
                     may_be_empty: bool) -> None:
    """Each metric named is exported by the worker, and each selector matches real series."""
    selectors = SELECTOR.findall(expr)
    assert selectors, f"{name}: names no cdrwatch metric: {expr}"
    for metric, matchers in selectors:
        assert metric in exported, f"{name}: {metric} is not exported by the worker: {expr}"
        if not may_be_empty:
            assert prom.query(metric + matchers), f"{name}: {metric}{matchers} matches no series"


def test_every_dashboard_and_rule_query_answers(scraped: tuple[Prometheus, set[str]]) -> None:
    prom, exported = scraped
    assert not prom.query('{__name__=~"cdrwatch_.+_created"}'), "the worker exports _created"
    report: dict[str, int] = {}
    queries = load_dashboards().all_queries()
    assert set(MAY_BE_EMPTY) | RISING <= set(queries), "a query named here no longer exists"
    for name, expr in sorted(queries.items()):
        may_be_empty = name in MAY_BE_EMPTY
        _check_selectors(prom, exported, name, expr, may_be_empty)
        result = prom.query(expr)
        report[name] = len(result)
        assert result or may_be_empty, f"dashboard query {name} returned no series: {expr}"
        if name in RISING:
            assert sum(float(s["value"][1]) for s in result) > 0, f"{name} is 0: {expr}"

    recorded = [r for r in prom.rules() if r.get("type") == "recording"]
    assert [r["name"] for r in recorded] == ["cdrwatch:detector_precision"]
    assert all(r["health"] == "ok" for r in recorded), recorded
    # the one incident confirmed (fixture): its detector at 1, no other detector judged
    prom.wait_for("the precision recorded", lambda: [
        float(s["value"][1]) for s in prom.query("cdrwatch:detector_precision")] == [1.0],
        timeout_s=15)
    rules = {r["name"]: r for r in prom.rules() if r.get("type") == "alerting"}
    in_file = re.findall(r"^\s*- alert: (\w+)", RULES.read_text(encoding="utf-8"), re.MULTILINE)
    assert set(rules) == set(in_file) == set(RULE_CONDITION), "rules loaded != rules.yml"
    for name, rule in sorted(rules.items()):
        assert rule["health"] == "ok", f"{name}: {rule['health']} {rule.get('lastError')}"
        _check_selectors(prom, exported, name, rule["query"],
                         may_be_empty=name in RULE_MAY_BE_EMPTY)
        result = prom.query(rule["query"])
        report[name] = len(result)
        assert bool(result) == RULE_CONDITION[name], (
            f"rule {name}: expected condition {RULE_CONDITION[name]}, got {result}")
        # Labels the annotations print must be on every series the rule yields.
        wanted = set(re.findall(r"\$labels\.(\w+)", json.dumps(rule["annotations"])))
        for series in result:
            assert wanted <= set(series["metric"]), f"{name}: {series['metric']} lacks {wanted}"
    # Values, not only shapes: what the dead-letter rule divides, and the status values
    # the alert-storm rule filters on.
    assert prom.scalar("sum(cdrwatch_dead_letters_total)") == BAD_RECORDS
    statuses = {s["metric"]["status"] for s in prom.query("cdrwatch_alerts_total")}
    assert "open" in statuses and statuses <= set(get_args(AlertStatus))
    late = {s["metric"]["family"]: s["value"][1]
            for s in prom.query("sum by (family) (cdrwatch_late_events_total)")}
    print("series per query:", json.dumps(report, sort_keys=True), "late by family:", late)
