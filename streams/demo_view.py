"""What the demo prints: alert rows laid out for the terminal's width (80 columns and up) with
nothing cut, and the closing summary. Pure text, so it is tested at any width."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from streams.events import Alert

STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
# event time, detector, status, key, observed, baseline: 77 columns, so 80 holds them
ROW = "{:8} {:26} {:8} {:16} {:>7} {:>7}"
INDENT = " " * 9  # the explanation's lines start under the detector
# From this width the severity and the explanation follow on the row itself.
WIDE = 140
WIDE_ROW = ROW + " {:8} "


def header(width: int) -> str:
    """The column titles over `alert_lines`."""
    names = ("event", "detector", "status", "key", "obs", "base")
    if width >= WIDE:
        return WIDE_ROW.format(*names, "severity") + "why"
    return ROW.format(*names) + f"\n{INDENT}severity: why"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def alert_lines(alert: Alert, width: int) -> list[str]:
    """One alert as terminal lines no wider than `width`: the columns, then the explanation
    wrapped (on the row itself when the terminal is wide)."""
    cells = (alert.detected_at.strftime("%H:%M:%S"), alert.detector, alert.status, alert.key,
             _figure(alert.observed), _figure(alert.baseline))
    if width >= WIDE:
        row = WIDE_ROW.format(*cells, alert.severity)
        rest = textwrap.wrap(alert.explanation, width - len(row)) or [""]
        return [row + rest[0], *(" " * len(row) + line for line in rest[1:])]
    why = textwrap.wrap(f"{alert.severity}: {alert.explanation}", width,
                        initial_indent=INDENT, subsequent_indent=INDENT)
    return [ROW.format(*cells), *why]


def alert_markup(alert: Alert, width: int) -> str:
    """`alert_lines` coloured by severity, as rich markup."""
    text = escape("\n".join(alert_lines(alert, width)))
    return f"[{STYLE.get(alert.severity, '')}]{text}[/]"


def in_event_order(alerts: Sequence[Alert]) -> list[Alert]:
    """What arrived together, in event-time order: partitions interleave their alerts."""
    return sorted(alerts, key=lambda a: (a.detected_at, a.window_start, a.detector, a.key))


def summary_table(alerts: Sequence[Alert]) -> Table:
    """Alerts by detector and status; the keys wrap rather than widen the table."""
    table = Table(title="summary: alerts by detector and status")
    table.add_column("detector", no_wrap=True)
    for status in ("open", "update", "resolved"):
        table.add_column(status, justify="right")
    table.add_column("keys", overflow="fold")
    by = Counter((a.detector, a.status) for a in alerts)
    for det in sorted({a.detector for a in alerts}):
        keys = ", ".join(sorted({a.key for a in alerts if a.detector == det}))
        table.add_row(det, *(str(by[(det, s)]) for s in ("open", "update", "resolved")), keys)
    return table


def count(value: float | None) -> str:
    """A counter scraped from the worker (a float in Prometheus' text) as a whole number."""
    return "?" if value is None else f"{int(value):,}"
