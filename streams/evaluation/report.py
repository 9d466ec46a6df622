"""An evaluation as terminal tables (rich) and as JSON for CI and notebooks."""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table

from streams.evaluation.scoring import Evaluation, Incident
from streams.evaluation.unlabelled import Unlabelled
from streams.evaluation.warned import Warned

EXAMPLES = 3  # false alarms shown per detector
NARROW = 120  # below this width tables split, and their lists go on lines of their own


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


def _table(title: str, narrow: bool) -> Table:
    """Light borders, and narrow only the column gap between cells: 80 columns hold them."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                 padding=(0, 0 if narrow else 1))


def _names(t: Table, *names: str) -> None:
    """Name columns: never cut (a truncated `burs...` names no detector)."""
    for name in names:
        t.add_column(name, no_wrap=True)


def _figures(t: Table, *names: str) -> None:
    for name in names:
        t.add_column(name, justify="right")


def detector_tables(ev: Evaluation, narrow: bool) -> list[Table]:
    """One table; narrow, one per call and one per caller ID."""
    calls = _table("Detectors, per call" if narrow else "Detectors (per call / per caller ID)",
                   narrow)
    _names(calls, "detector")
    _figures(calls, "flagged", "precision", "recall")
    ids = _table("Detectors, per caller ID", narrow) if narrow else calls
    if narrow:
        _names(ids, "detector")
    _figures(ids, "IDs", "ID prec.", "ID recall")
    _figures(calls, "incidents", "false alarms", "per day")
    for d in ev.detectors:
        per_call = [str(d.flagged), _colour(d.precision), _colour(d.recall)]
        per_id = [str(d.ids_flagged), _colour(d.id_precision), _colour(d.id_recall)]
        fa = f"[bold red]{d.false_alarms}[/]" if d.false_alarms else "0"
        tail = [str(d.incidents), fa, f"{d.false_alarms_per_day or 0:g}"]
        if narrow:
            calls.add_row(d.detector, *per_call, *tail)
            ids.add_row(d.detector, *per_id)
        else:
            calls.add_row(d.detector, *per_call, *per_id, *tail)
    return [calls, ids] if narrow else [calls]


def _expected(ev: Evaluation, detectors: tuple[str, ...]) -> str:
    return ", ".join(f"[dim]{d}?[/]" if d in ev.missing else d for d in detectors) or "-"


def scenario_table(ev: Evaluation, narrow: bool) -> tuple[Table, list[str]]:
    """The table, and narrow its detector lists as lines to print under it."""
    t = _table("Scenarios", narrow)
    notes = []
    _names(t, "scenario")
    _figures(t, "calls", "recall", "any detector", "detected", "latency")
    if not narrow:
        t.add_column("expected detectors")
        t.add_column("flagged by")
    for s in ev.scenarios:
        found = f"{s.detected}/{s.campaigns}" if s.campaigns else "-"
        if s.campaigns and s.detected < s.campaigns:
            found = f"[bold red]{found}[/]"
        by = ", ".join(f"{d} {n}" for d, n in s.by_detector.items()) or "-"
        any_style = _colour(s.recall_any) if s.recall is not None else pct(s.recall_any)
        row = [s.scenario, str(s.calls), _colour(s.recall), any_style, found, secs(s.latency_s)]
        if narrow:
            t.add_row(*row)
            notes.append(f"{s.scenario}: expected {_expected(ev, s.expected)}; flagged by {by}")
        else:
            t.add_row(*row, _expected(ev, s.expected), by)
    return t, notes


def campaign_table(ev: Evaluation, narrow: bool) -> tuple[Table, list[str]]:
    """The table, and narrow the other detectors that alerted as lines to print under it."""
    t = _table("Campaigns (latency: event time from first call to first alert)", narrow)
    notes = []
    _names(t, "campaign", "start")
    _figures(t, "calls", "latency", "recall")
    _names(t, "first expected detector")
    if not narrow:
        t.add_column("also alerted")
    for c in ev.campaigns:
        who = c.detector or "[bold red]MISSED[/]"
        also = ", ".join(f"{d} {secs(c.latency_by[d])}" for d in c.others) or "-"
        row = [c.id, clock(c.start), str(c.calls), secs(c.latency_s), _colour(c.recall), who]
        if narrow:
            t.add_row(*row)
            if c.others:
                notes.append(f"{c.id}: also alerted {also}")
        else:
            t.add_row(*row, also)
    return t, notes


def false_alarm_table(ev: Evaluation, narrow: bool) -> Table:
    t = _table("False alarms (incidents whose calls are mostly normal traffic)", narrow)
    _names(t, "detector", "at", "key")
    t.add_column("explanation", overflow="fold", ratio=1)
    shown: dict[str, int] = {}
    for inc in ev.false_alarms:
        shown[inc.detector] = shown.get(inc.detector, 0) + 1
        if shown[inc.detector] <= EXAMPLES:
            t.add_row(inc.detector, clock(inc.first_at), inc.key, inc.explanation)
    return t


def _seen(incidents: dict[str, dict[str, int]]) -> str:
    return "; ".join(f"{d} " + ", ".join(f"{s} {n}" for s, n in by.items())
                     for d, by in incidents.items()) or "-"


def trap_table(ev: Evaluation, narrow: bool) -> tuple[Table, list[str]]:
    """One row per trap; narrow, the incidents per detector and severity as lines under it."""
    t = _table("Traps (legitimate traffic: an incident at medium or above holding any of "
               "their calls is a false alarm)", narrow)
    notes = []
    _names(t, "trap")
    _figures(t, "calls", "false alarms", "calls alerted")
    if not narrow:
        t.add_column("incidents by detector and severity")
    for trap in ev.traps:
        fa = f"[bold red]{trap.false_alarms}[/]" if trap.false_alarms else "[green]0[/]"
        row = [trap.trap, str(trap.calls), fa, str(trap.alerted_calls)]
        if narrow:
            t.add_row(*row)
            notes.append(f"{trap.trap}: {_seen(trap.incidents)}")
        else:
            t.add_row(*row, _seen(trap.incidents))
    return t, notes


def warned_table(warned: Warned, narrow: bool) -> tuple[Table, list[str]]:
    """Answered victims per scenario, the share warned, and how soon (event time)."""
    t = _table("Warnings (victims: subscribers who answered a fraud call; delay: from their "
               "first such call to a warning)", narrow)
    _names(t, "scenario")
    _figures(t, "victims", "warned", "share", "median delay", "p90 delay")
    for r in warned.rows:
        t.add_row(r.scenario, str(r.victims), str(r.warned),
                  _colour(r.share), secs(r.median_delay_s),
                  secs(r.p90_delay_s))
    tone = "bold red" if warned.false_warnings else "green"
    return t, [f"[{tone}]{warned.false_warnings}[/] of {warned.warnings} warnings were given "
               "on a legitimate call"]


def delivery_line(ev: Evaluation) -> str:
    d = ev.delivery
    if d is None:
        return ""
    twice = "[bold red]" if d.counted_twice else "[green]"
    return (f"delivery: {d.duplicated} calls sent twice, their second copies gave "
            f"{d.copies_in_time} items in time, {d.dropped_as_duplicates} dropped as duplicates: "
            f"{twice}counted twice {d.counted_twice}[/]; {d.late} calls sent late, "
            f"{d.late_routed} feed a statistic, {d.reported_late} reported late")


def print_report(ev: Evaluation, console: Console | None = None, source: str = "") -> None:
    # Piped into a file or CI log, rich would wrap at 80 columns and truncate the names.
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    alerts = sum(len(i.hits) for i in ev.incidents)
    console.print(f"[bold]cdrwatch evaluate[/] {source}: {ev.events:,} calls over "
                  f"{ev.days * 24:.1f} h, {len(ev.incidents)} incidents ({alerts} alerted "
                  f"windows), {ev.seconds:.1f} s")
    narrow = console.width < NARROW
    for table in detector_tables(ev, narrow):
        console.print(table)
    tables = [scenario_table(ev, narrow)]
    if ev.campaigns:
        tables.append(campaign_table(ev, narrow))
    if ev.traps:
        tables.append(trap_table(ev, narrow))
    if ev.warned is not None:
        tables.append(warned_table(ev.warned, narrow))
    for table, notes in tables:
        console.print(table)
        for note in notes:
            console.print(Padding(note, (0, 0, 0, 2)), highlight=False)
    if ev.delivery is not None:
        console.print(delivery_line(ev))
    if ev.false_alarms:
        console.print(false_alarm_table(ev, narrow))
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
        "traps": [asdict(t) for t in ev.traps],
        "warnings": None if ev.warned is None else asdict(ev.warned),
        "delivery": None if ev.delivery is None
        else {**asdict(ev.delivery), "counted_twice": ev.delivery.counted_twice},
    }


def print_unlabelled(rep: Unlabelled, console: Console | None = None, top: int = 15) -> None:
    """Incidents per day and per detector, then the keys that make the most of them."""
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    console.print(f"[bold]cdrwatch evaluate[/] {rep.source} (no labels): {rep.calls:,} calls, "
                  f"{len(rep.incidents)} incidents over {len(rep.days)} day(s) in "
                  f"{rep.timezone}; {rep.late} late, {rep.rejected} rejected records")
    narrow = console.width < NARROW
    per_day = rep.per_day()
    detectors = sorted({d for counts in per_day.values() for d in counts})
    t = _table("incidents per day", narrow)
    _names(t, "day")
    _figures(t, *detectors, "all")
    for day, counts in per_day.items():
        t.add_row(f"{day.isoformat()} {day:%a}", *(str(counts.get(d, 0)) for d in detectors),
                  str(sum(counts.values())))
    console.print(t)
    keys = _table(f"keys with the most incidents (top {top})", narrow)
    _names(keys, "detector", "key")
    _figures(keys, "incidents", "share of its detector")
    totals = Counter(i.detector for i in rep.incidents)
    for (detector, key), n in rep.per_key().most_common(top):
        keys.add_row(detector, key, str(n), pct(n / totals[detector]))
    console.print(keys)
