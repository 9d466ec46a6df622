"""An evaluation as terminal tables (rich) and as JSON for CI and notebooks."""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from streams.evaluation.scoring import Evaluation, Incident

EXAMPLES = 3  # false alarms shown per detector


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value in (0, 1) else f"{value:.1%}"


def secs(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S")


def _colour(value: float | None, good: float = 0.9, fair: float = 0.5) -> str:
    text = pct(value)
    if value is None:
        return text
    style = "green" if value >= good else "yellow" if value >= fair else "bold red"
    return f"[{style}]{text}[/]"


def detector_table(ev: Evaluation) -> Table:
    t = Table(title="Detectors (per call / per caller ID)", title_justify="left")
    for name in ("detector", "flagged", "precision", "recall", "IDs", "ID prec.", "ID recall",
                 "incidents", "false alarms", "per day"):
        t.add_column(name, justify="left" if name == "detector" else "right")
    for d in ev.detectors:
        fa = f"[bold red]{d.false_alarms}[/]" if d.false_alarms else "0"
        t.add_row(d.detector, str(d.flagged), _colour(d.precision), _colour(d.recall),
                  str(d.ids_flagged), _colour(d.id_precision), _colour(d.id_recall),
                  str(d.incidents), fa, f"{d.false_alarms_per_day or 0:g}")
    return t


def scenario_table(ev: Evaluation) -> Table:
    t = Table(title="Scenarios", title_justify="left")
    for name in ("scenario", "calls", "expected detectors", "recall", "any detector",
                 "detected", "latency", "flagged by"):
        t.add_column(name, justify="right" if name in ("calls", "latency") else "left")
    for s in ev.scenarios:
        expected = ", ".join(
            f"[dim]{d}?[/]" if d in ev.missing else d for d in s.expected) or "-"
        found = f"{s.detected}/{s.campaigns}" if s.campaigns else "-"
        if s.campaigns and s.detected < s.campaigns:
            found = f"[bold red]{found}[/]"
        by = ", ".join(f"{d} {n}" for d, n in s.by_detector.items()) or "-"
        any_style = _colour(s.recall_any) if s.recall is not None else pct(s.recall_any)
        t.add_row(s.scenario, str(s.calls), expected, _colour(s.recall), any_style, found,
                  secs(s.latency_s), by)
    return t


def campaign_table(ev: Evaluation) -> Table:
    t = Table(title="Campaigns (latency: event time from first call to first alert)",
              title_justify="left")
    for name in ("campaign", "start", "calls", "first expected detector", "latency", "recall",
                 "also alerted"):
        t.add_column(name, justify="right" if name in ("calls", "latency") else "left")
    for c in ev.campaigns:
        who = c.detector or "[bold red]MISSED[/]"
        also = ", ".join(f"{d} {secs(c.latency_by[d])}" for d in c.others) or "-"
        t.add_row(c.id, clock(c.start), str(c.calls), who, secs(c.latency_s),
                  _colour(c.recall), also)
    return t


def false_alarm_table(ev: Evaluation) -> Table:
    t = Table(title="False alarms (incidents whose calls are mostly normal traffic)",
              title_justify="left")
    for name in ("detector", "at", "key", "explanation"):
        t.add_column(name, overflow="fold")
    shown: dict[str, int] = {}
    for inc in ev.false_alarms:
        shown[inc.detector] = shown.get(inc.detector, 0) + 1
        if shown[inc.detector] <= EXAMPLES:
            t.add_row(inc.detector, clock(inc.first_at), inc.key, inc.explanation)
    return t


def print_report(ev: Evaluation, console: Console | None = None, source: str = "") -> None:
    # Piped into a file or CI log, rich would wrap at 80 columns and truncate the names.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    alerts = sum(len(i.hits) for i in ev.incidents)
    console.print(f"[bold]cdrwatch evaluate[/] {source}: {ev.events:,} calls over "
                  f"{ev.days * 24:.1f} h, {len(ev.incidents)} incidents ({alerts} alerted "
                  f"windows), {ev.seconds:.1f} s")
    console.print(detector_table(ev))
    console.print(scenario_table(ev))
    if ev.campaigns:
        console.print(campaign_table(ev))
    if ev.false_alarms:
        console.print(false_alarm_table(ev))
    else:
        console.print("[green]no false alarms: every incident is mostly fraud calls[/]")
    if ev.missing:
        console.print("[yellow]expected but not run (switched off by the policy, or not in "
                      f"the engine):[/] {', '.join(ev.missing)}")


def _incident(inc: Incident) -> dict[str, Any]:
    return {"detector": inc.detector, "alert_id": inc.alert_id, "key": inc.key,
            "first_at": datetime.fromtimestamp(inc.first_at, tz=UTC).isoformat(),
            "windows": len(inc.hits), "calls": len(inc.record_ids),
            "explanation": inc.explanation}


def to_json(ev: Evaluation, source: str = "") -> dict[str, Any]:
    """Plain JSON types only; times as RFC 3339, durations in seconds."""
    campaigns = []
    for c in ev.campaigns:
        row = asdict(c)
        row["start"] = datetime.fromtimestamp(c.start, tz=UTC).isoformat()
        row["detected"], row["others"] = c.detected, c.others
        campaigns.append(row)
    return {
        "source": source,
        "events": ev.events,
        "days": ev.days,
        "seconds": ev.seconds,
        "detectors": [asdict(d) for d in ev.detectors],
        "scenarios": [asdict(s) for s in ev.scenarios],
        "campaigns": campaigns,
        "false_alarms": [_incident(i) for i in ev.false_alarms],
        "incidents": len(ev.incidents),
        "missing_detectors": ev.missing,
    }
