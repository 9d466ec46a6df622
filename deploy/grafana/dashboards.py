"""cdrwatch Grafana dashboards as code; `python deploy/grafana/dashboards.py` rewrites the JSON.

Every PromQL expression lives in QUERIES so tests (and an end-to-end run against a real
Prometheus) can check each one; panels refer to queries by name, never inline.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, DashboardLink, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    Panel,
    Threshold,
    ThresholdsMode,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT_DIR = Path(__file__).parent / "dashboards"
# Must match the uid in provisioning/datasources.yml.
DATASOURCE = DataSourceRef(type_val="prometheus", uid="cdrwatch-prometheus")
RATE = "$__rate_interval"


def _rate(metric: str, by: str = "") -> str:
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} (rate({metric}[{RATE}]))"


def _quantile(q: float, histogram: str) -> str:
    return f"histogram_quantile({q}, sum by (instance, le) (rate({histogram}_bucket[{RATE}])))"


QUERIES: dict[str, str] = {
    "messages_consumed_rate": _rate("cdrwatch_messages_consumed_total"),
    "events_consumed_rate": _rate("cdrwatch_events_consumed_total"),
    "events_valid_rate": _rate("cdrwatch_events_valid_total"),
    "events_rejected_rate": _rate("cdrwatch_events_rejected_total", "reason"),
    "event_time_lag": "max by (instance) (cdrwatch_event_time_lag_seconds)",
    "consumer_lag": "sum by (topic) (cdrwatch_consumer_lag_messages)",
    "dead_letter_rate": _rate("cdrwatch_dead_letters_total"),
    "alerts_by_detector_rate": _rate("cdrwatch_alerts_total", "detector"),
    "spoofing_verdicts_rate": _rate("cdrwatch_spoofing_verdicts_total", "rule"),
    "withheld_callers_rate": _rate("cdrwatch_withheld_callers_total"),
    "unmapped_trunk_rate": _rate("cdrwatch_unmapped_trunk_calls_total"),
    # max, not sum: a country's window lives on one worker, a stale copy must not double it.
    "window_calls": "max by (country_code) (cdrwatch_window_calls)",
    "window_baseline_calls": "max by (country_code) (cdrwatch_window_baseline_calls)",
    "window_ratio_top": (
        "topk(10, max by (country_code) (cdrwatch_window_calls)"
        " / max by (country_code) (cdrwatch_window_baseline_calls > 0))"
    ),
    "alerts_by_detector_severity_rate": _rate("cdrwatch_alerts_total", "detector, severity"),
    "alerts_in_range": (
        "sum by (detector, severity) (increase(cdrwatch_alerts_total[$__range]))"
    ),
    "open_alerts": "sum by (detector) (cdrwatch_open_alerts)",
    "allowlist_suppressions_rate": _rate("cdrwatch_allowlist_suppressions_total", "rule"),
    # as the cdrwatch:detector_precision rule: every worker shows the same counts, take one
    "detector_precision": (
        'max by (detector) (cdrwatch_feedback_incidents{verdict="confirmed"})'
        " / (sum by (detector) (max by (detector, verdict) (cdrwatch_feedback_incidents)) > 0)"
    ),
    "feedback_incidents": "max by (detector, verdict) (cdrwatch_feedback_incidents)",
    "alerts_suppressed_rate": _rate("cdrwatch_alerts_suppressed_total", "detector"),
    "event_seconds_p50": _quantile(0.5, "cdrwatch_event_processing_seconds"),
    "event_seconds_p95": _quantile(0.95, "cdrwatch_event_processing_seconds"),
    "event_seconds_p99": _quantile(0.99, "cdrwatch_event_processing_seconds"),
    "batch_seconds_p50": _quantile(0.5, "cdrwatch_batch_processing_seconds"),
    "batch_seconds_p99": _quantile(0.99, "cdrwatch_batch_processing_seconds"),
    "batch_seconds_mean": (
        "sum by (instance) (rate(cdrwatch_batch_processing_seconds_sum[$__rate_interval]))"
        " / sum by (instance) (rate(cdrwatch_batch_processing_seconds_count[$__rate_interval]))"
    ),
    "batches_rate": _rate("cdrwatch_batch_processing_seconds_count", "instance"),
    "table_keys": "sum by (instance, table) (cdrwatch_table_keys)",
    "late_events_rate": _rate("cdrwatch_late_events_total", "instance, family"),
    "duplicates_rate": _rate("cdrwatch_duplicate_events_total", "instance, family"),
    "redelivered_rate": _rate("cdrwatch_redelivered_events_total", "instance, family"),
    "internal_errors_rate": _rate("cdrwatch_internal_errors_total", "instance, where"),
    "watermark_delay": "min by (instance) (time() - cdrwatch_event_time_watermark_seconds)",
    "worker_info": "max by (instance, version, policy_hash) (cdrwatch_worker_info)",
    "up": 'up{job="cdrwatch"}',
    "call_verdicts_rate": _rate("cdrwatch_call_verdicts_total", "detector"),
    "unmarked_calls_rate": _rate("cdrwatch_unmarked_calls_total", "family"),
    "warnings_rate": _rate("cdrwatch_warnings_total", "outcome"),
    # max, not sum: every worker publishes the same hotlist (streams/agents/hotlist.py)
    "hotlist_entries": "max by (action) (cdrwatch_hotlist_entries)",
    "hotlist_skipped_rate": _rate("cdrwatch_hotlist_skipped_alerts_total", "reason"),
}


def all_queries(rate_interval: str = "1m", range_: str = "1h") -> dict[str, str]:
    """Every dashboard query, name -> PromQL, with Grafana's macros made plain for Prometheus."""
    return {
        name: expr.replace("$__rate_interval", rate_interval).replace("$__range", range_)
        for name, expr in QUERIES.items()
    }


def _target(name: str, legend: str, ref: str = "A", table: bool = False) -> Dataquery:
    query = Dataquery().expr(QUERIES[name]).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    return query.format(PromQueryFormat.TABLE).instant() if table else query


def _series(title: str, unit: str, *targets: Dataquery, w: int = 12) -> Timeseries:
    legend = VizLegendOptions().display_mode(LegendDisplayMode.LIST).show_legend(True)
    legend = legend.placement(LegendPlacement.BOTTOM)
    panel = Timeseries().title(title).unit(unit).datasource(DATASOURCE).height(8).span(w)
    panel = panel.legend(legend)
    for target in targets:
        panel = panel.with_target(target)
    return panel.min(0)


def _table(title: str, target: Dataquery, w: int, h: int = 8) -> Table:
    panel = Table().title(title).datasource(DATASOURCE).height(h).span(w)
    return panel.with_target(target).show_header(True)


def _thresholds(warn: float, crit: float) -> ThresholdsConfig:
    steps = [Threshold(None, "green"), Threshold(warn, "orange"), Threshold(crit, "red")]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


# Overview panels.
def throughput() -> Timeseries:
    return _series(
        "Throughput", "ops",
        _target("messages_consumed_rate", "messages", "A"),
        _target("events_consumed_rate", "events consumed", "B"),
        _target("events_valid_rate", "events valid", "C"),
    )


def rejected() -> Timeseries:
    target = _target("events_rejected_rate", "{{reason}}")
    return _series("Rejected events by reason", "ops", target)


def event_time_lag() -> Timeseries:
    panel = _series("Event-time lag", "s", _target("event_time_lag", "{{instance}}"))
    return panel.thresholds(_thresholds(60, 300))


def consumer_lag() -> Timeseries:
    return _series("Consumer lag", "short", _target("consumer_lag", "{{topic}}"))


def dead_letters() -> Timeseries:
    return _series("Dead-letter rate", "ops", _target("dead_letter_rate", "dead letters"))


def alerts_by_detector() -> Timeseries:
    return _series(
        "Alerts by detector", "ops", _target("alerts_by_detector_rate", "{{detector}}"), w=24
    )


# Fraud panels.
def spoofing_verdicts() -> Timeseries:
    return _series(
        "Spoofing verdicts by rule", "ops",
        _target("spoofing_verdicts_rate", "{{rule}}", "A"),
        _target("withheld_callers_rate", "withheld caller", "B"),
        # read as national: the from-abroad rules cannot see these calls until [trunks] has them
        _target("unmapped_trunk_rate", "trunk of unknown kind", "C"),
    )


def window_calls() -> Timeseries:
    return _series(
        "International calls per window vs baseline, by source country", "short",
        _target("window_calls", "{{country_code}} now", "A"),
        _target("window_baseline_calls", "{{country_code}} baseline", "B"),
    )


def window_ratio() -> Table:
    target = _target("window_ratio_top", "{{country_code}}", table=True)
    return _table("Top countries: window / baseline", target, w=8).decimals(1).thresholds(
        _thresholds(3, 10)
    )


def alerts_by_severity() -> Timeseries:
    target = _target("alerts_by_detector_severity_rate", "{{detector}} {{severity}}")
    return _series("Alerts by detector and severity", "ops", target, w=16)


def alerts_in_range() -> Table:
    target = _target("alerts_in_range", "", table=True)
    return _table("Alerts in range", target, w=8).decimals(0)


def open_alerts() -> Timeseries:
    return _series("Open alerts", "short", _target("open_alerts", "{{detector}}"), w=8)


def suppressions() -> Timeseries:
    target = _target("allowlist_suppressions_rate", "{{rule}}")
    return _series("Allowlist suppressions by rule", "ops", target, w=8)


# Action panels: what the switch, the case tool and the SMS gateway are given.
def call_verdicts() -> Timeseries:
    return _series(
        "Calls marked under an incident (cdr-verdicts), by detector", "ops",
        _target("call_verdicts_rate", "{{detector}}", "A"),
        # a window holds at most MAX_KEPT calls for its verdicts: the rest are only counted
        _target("unmarked_calls_rate", "{{family}} not marked", "B"),
    )


def warnings() -> Timeseries:
    return _series("Subscriber warnings (cdr-warnings), by outcome", "ops",
                   _target("warnings_rate", "{{outcome}}"))


def hotlist() -> Timeseries:
    return _series(
        "Hotlist for the switch (cdr-hotlist)", "short",
        _target("hotlist_entries", "{{action}}", "A"),
        _target("hotlist_skipped_rate", "skipped: {{reason}}", "B"),
        w=24,
    )


def precision() -> Table:
    """Analysts' verdicts: how often a detector's incidents were real."""
    target = _target("detector_precision", "{{detector}}", table=True)
    return _table("Precision by detector (analysts' verdicts)", target, w=8).unit(
        "percentunit").decimals(2).thresholds(_low_is_bad(0.5, 0.8))


def judged() -> Timeseries:
    return _series("Incidents judged by analysts", "short",
                   _target("feedback_incidents", "{{detector}} {{verdict}}"), w=8)


def feedback_actions() -> Timeseries:
    """What the verdicts did: alerts a suppression dropped (warnings retracted are on the
    warnings panel, by outcome)."""
    return _series("Alerts suppressed by analysts' verdicts", "ops",
                   _target("alerts_suppressed_rate", "{{detector}}"), w=8)


def _low_is_bad(crit: float, warn: float) -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(None, "red"), Threshold(crit, "orange"), Threshold(warn, "green")])


# Health panels.
def event_time_percentiles() -> Timeseries:
    return _series(
        "Detection time per CDR", "s",
        _target("event_seconds_p50", "p50 {{instance}}", "A"),
        _target("event_seconds_p95", "p95 {{instance}}", "B"),
        _target("event_seconds_p99", "p99 {{instance}}", "C"),
    )


def batch_time() -> Timeseries:
    return _series(
        "Batch time", "s",
        _target("batch_seconds_p50", "p50 {{instance}}", "A"),
        _target("batch_seconds_p99", "p99 {{instance}}", "B"),
        _target("batch_seconds_mean", "mean {{instance}}", "C"),
    )


def batches() -> Timeseries:
    return _series("Batches per second", "ops", _target("batches_rate", "{{instance}}"), w=8)


def table_keys() -> Timeseries:
    return _series("Table keys", "short", _target("table_keys", "{{instance}} {{table}}"), w=8)


def late_events() -> Timeseries:
    target = _target("late_events_rate", "{{instance}} {{family}}")
    return _series("Late events (dropped)", "ops", target, w=8)


def uncounted() -> Timeseries:
    """Calls the windows did not count twice: duplicates and at-least-once redeliveries."""
    return _series("Duplicates and redeliveries (counted once)", "ops",
                   _target("duplicates_rate", "{{instance}} duplicate {{family}}"),
                   _target("redelivered_rate", "{{instance}} redelivered {{family}}"), w=8)


def internal_errors() -> Timeseries:
    target = _target("internal_errors_rate", "{{instance}} {{where}}")
    return _series("Internal errors (dead-lettered or retried)", "ops", target, w=8)


def watermark_delay() -> Timeseries:
    """How far behind the wall clock windows may close: grows on replays and while a
    partition lags; flat while the input pauses."""
    return _series("Event-time watermark behind wall clock", "s",
                   _target("watermark_delay", "{{instance}}"), w=8)


def worker_info() -> Table:
    target = _target("worker_info", "", table=True)
    return _table("Workers", target, w=16, h=6)


def up() -> Stat:
    down_red = ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(
        [Threshold(None, "red"), Threshold(1, "green")]
    )
    target = _target("up", "{{instance}}")
    last = ReduceDataOptions().calcs(["lastNotNull"]).values(False)
    panel = Stat().title("Workers up").datasource(DATASOURCE).height(6).span(8)
    panel = panel.reduce_options(last).graph_mode(BigValueGraphMode.NONE)
    return panel.with_target(target).thresholds(down_red)


def _dashboard(uid: str, title: str, panels: list[Callable[[], Builder[Panel]]]) -> Dashboard:
    board = Dashboard(title).uid(uid).tags(["cdrwatch"]).refresh("10s").time("now-1h", "now")
    board = board.timezone("browser").link(
        DashboardLink("cdrwatch").type(DashboardLinkType.DASHBOARDS).tags(["cdrwatch"])
        .as_dropdown(True).keep_time(True)
    )
    for panel in panels:
        board = board.with_panel(panel())
    return board


def dashboards() -> dict[str, Dashboard]:
    """File name -> dashboard builder."""
    return {
        "overview.json": _dashboard("cdrwatch-overview", "cdrwatch / Overview", [
            throughput, rejected, event_time_lag, consumer_lag, dead_letters, alerts_by_detector,
        ]),
        "fraud.json": _dashboard("cdrwatch-fraud", "cdrwatch / Fraud", [
            spoofing_verdicts, window_calls, alerts_by_severity, alerts_in_range,
            window_ratio, open_alerts, suppressions,
        ]),
        "actions.json": _dashboard("cdrwatch-actions", "cdrwatch / Actions", [
            call_verdicts, warnings, hotlist, precision, judged, feedback_actions,
        ]),
        "health.json": _dashboard("cdrwatch-health", "cdrwatch / Worker health", [
            up, worker_info, event_time_percentiles, batch_time, batches, table_keys, late_events,
            uncounted, internal_errors, watermark_delay,
        ]),
    }


def render(board: Dashboard) -> str:
    """Stable JSON (sorted keys, trailing newline) so the committed files diff cleanly."""
    return JSONEncoder(sort_keys=True, indent=2).encode(board.build()) + "\n"


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, board in dashboards().items():
        (OUT_DIR / name).write_text(render(board), encoding="utf-8")
        print(OUT_DIR / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
