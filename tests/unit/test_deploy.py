"""Deploy files stay true to the code: fresh dashboard JSON, real metric names, valid rules."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import get_args

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase

from streams.events import AlertStatus, Severity
from streams.metrics import Metrics
from tests.conftest import load_dashboards

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
PROMETHEUS = ROOT / "deploy" / "prometheus"
REGENERATE = "python deploy/grafana/dashboards.py"
METRIC = re.compile(r"\bcdrwatch_[a-z0-9_]+")
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*\"")
# Label values the worker can export, for labels whose values are a closed set.
VALUE_MATCHER = re.compile(r"\b(status|severity)\s*=\s*\"([^\"]*)\"")
CLOSED_VALUES = {"status": set(get_args(AlertStatus)), "severity": set(get_args(Severity))}
TARGET_LABELS = {"job", "instance", "le"}  # added by Prometheus, or the histogram bucket


boards = load_dashboards()


def _exported() -> dict[str, set[str]]:
    """Sample name -> label names, from a fresh registry with one child per labelled metric."""
    metrics = Metrics(CollectorRegistry())
    metrics.info.info({"version": "0", "policy_hash": "0"})
    for metric in vars(metrics).values():
        names = getattr(metric, "_labelnames", ()) if isinstance(metric, MetricWrapperBase) else ()
        if names:
            metric.labels(**dict.fromkeys(names, "x"))
    return {
        sample.name: set(sample.labels)
        for family in metrics.registry.collect()
        for sample in family.samples
    }


EXPORTED = _exported()


def _rule_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in PROMETHEUS.glob("rules*.yml")}


def test_exported_names_include_suffixes() -> None:
    for name in (
        "cdrwatch_events_consumed_total", "cdrwatch_alerts_total", "cdrwatch_worker_info",
        "cdrwatch_event_processing_seconds_bucket", "cdrwatch_batch_processing_seconds_count",
        "cdrwatch_window_calls",
    ):
        assert name in EXPORTED
    assert "cdrwatch_events_consumed" not in EXPORTED  # the bare counter name is never a series
    assert EXPORTED["cdrwatch_alerts_total"] == {"detector", "severity", "status"}


@pytest.mark.parametrize("name", sorted(boards.dashboards()))
def test_committed_dashboard_is_fresh(name: str) -> None:
    path = GRAFANA / "dashboards" / name
    assert path.exists(), f"{path} missing: run `{REGENERATE}` and commit the JSON"
    expected = boards.render(boards.dashboards()[name])
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} is stale: run `{REGENERATE}` and commit the JSON"
    )


def test_no_orphan_dashboard_files() -> None:
    on_disk = {p.name for p in (GRAFANA / "dashboards").glob("*.json")}
    assert on_disk == set(boards.dashboards())


def test_all_queries_are_exactly_the_dashboard_queries() -> None:
    used = {
        target["expr"]
        for board in boards.dashboards().values()
        for panel in json.loads(boards.render(board))["panels"]
        for target in panel.get("targets", [])
    }
    assert used == set(boards.QUERIES.values())
    assert len(boards.all_queries()) == len(boards.QUERIES)
    assert not any("$" in expr for expr in boards.all_queries().values())


def test_dashboards_use_the_provisioned_datasource() -> None:
    provisioned = (GRAFANA / "provisioning" / "datasources.yml").read_text(encoding="utf-8")
    assert f"uid: {boards.DATASOURCE.uid}" in provisioned
    for board in boards.dashboards().values():
        for panel in json.loads(boards.render(board))["panels"]:
            assert panel["datasource"]["uid"] == boards.DATASOURCE.uid


@pytest.mark.parametrize(("name", "expr"), sorted(boards.all_queries().items()))
def test_dashboard_query_uses_real_metrics_and_labels(name: str, expr: str) -> None:
    metrics = METRIC.findall(expr)
    assert metrics or expr.startswith("up{"), f"{name} queries no cdrwatch metric"
    unknown = sorted(set(metrics) - set(EXPORTED))
    assert not unknown, f"{name} uses metrics not in streams/metrics.py: {unknown}"
    labels = TARGET_LABELS.union(*(EXPORTED[m] for m in metrics))
    used = {lbl.strip() for group in GROUPING.findall(expr) for lbl in group.split(",")}
    used |= set(MATCHER.findall(expr))
    assert used - {""} <= labels, f"{name} uses labels {sorted(used - labels)} no metric has"


@pytest.mark.parametrize("file", ["rules.yml", "rules_test.yml"])
def test_rules_use_real_metrics(file: str) -> None:
    unknown = sorted(set(METRIC.findall(_rule_texts()[file])) - set(EXPORTED))
    assert not unknown, f"{file} uses metrics not in streams/metrics.py: {unknown}"


def test_matched_label_values_exist() -> None:
    """A matcher on a value the worker never exports (status="opened") matches nothing."""
    texts = [*_rule_texts().values(), *boards.all_queries().values()]
    found = [(label, value) for text in texts for label, value in VALUE_MATCHER.findall(text)]
    assert ("status", "open") in found
    wrong = sorted({(label, v) for label, v in found if v not in CLOSED_VALUES[label]})
    assert not wrong, f"label values the worker never exports: {wrong}"


def test_alert_storm_counts_only_opened_alerts() -> None:
    """Updates and resolutions of one big incident must not page as a storm."""
    rule = _rule_texts()["rules.yml"].split("alert: CdrwatchAlertStorm", 1)[1]
    expr = re.search(r"expr: (.*)", rule)
    assert expr and 'cdrwatch_alerts_total{status="open"}' in expr.group(1)


def test_readme_lists_every_metric_and_rule() -> None:
    readme = (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(cdrwatch_[a-z0-9_]+)`", readme))
    parts = ("_created", "_sum", "_count", "_bucket")
    series = {n for n in EXPORTED if n.startswith("cdrwatch_") and not n.endswith(parts)}
    series |= {n.removesuffix("_bucket") for n in EXPORTED if n.endswith("_bucket")}
    assert not series - documented, f"deploy/README.md lacks {sorted(series - documented)}"
    rules = re.findall(r"- alert: (\w+)", _rule_texts()["rules.yml"])
    assert rules and all(f"**{rule}**" in readme for rule in rules)


def test_rule_test_series_have_real_labels() -> None:
    series = re.findall(r"series: '(\w+)\{([^}]*)\}'", _rule_texts()["rules_test.yml"])
    assert series
    for name, matchers in series:
        labels = set(re.findall(r"(\w+)=", matchers))
        extra = labels - EXPORTED.get(name, {"job", "instance"}) - TARGET_LABELS
        assert not extra, f"test series {name} has labels the worker never exports: {extra}"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("promtool not found but CI is set: install Debian's `prometheus` package")
    pytest.skip("promtool not installed (apt-get install prometheus); with CI set this fails")


def _run(promtool: str, *args: str) -> None:
    done = subprocess.run([promtool, *args], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"


def test_promtool_check_rules(promtool: str) -> None:
    _run(promtool, "check", "rules", "deploy/prometheus/rules.yml")


def test_promtool_check_config(promtool: str) -> None:
    _run(promtool, "check", "config", "deploy/prometheus/prometheus.yml")


def test_promtool_unit_tests(promtool: str) -> None:
    _run(promtool, "test", "rules", "deploy/prometheus/rules_test.yml")


def test_dashboard_queries_parse_as_promql(promtool: str, tmp_path: Path) -> None:
    """Wrap each query in a recording rule, so promtool's PromQL parser checks its syntax."""
    rules = "".join(
        f"      - record: cdrwatch:dashboard:{name}\n        expr: {json.dumps(expr)}\n"
        for name, expr in boards.all_queries().items()
    )
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(f"groups:\n  - name: dashboards\n    rules:\n{rules}", encoding="utf-8")
    _run(promtool, "check", "rules", str(path))
