"""The evaluation as one PNG: latency per campaign, traffic volume, and alerts on a timeline.

Built on a bare `Figure` (Agg canvas, no pyplot), so it runs headless and leaves no global
figure state behind in a long-lived process or a test run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from matplotlib import colormaps
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from streams.evaluation.scoring import Evaluation

MISSED = "#c62828"


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def palette(detectors: list[str]) -> dict[str, tuple[float, ...]]:
    """One stable colour per detector, the same in every panel."""
    cmap = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]  # strong hues first, pale ones after
    return {d: cmap(order[i % 20]) for i, d in enumerate(sorted(detectors))}


def _latency(ax: Axes, ev: Evaluation, colours: dict[str, tuple[float, ...]]) -> None:
    rows = list(reversed(ev.campaigns))
    top = max((c.latency_s or 0) / 60 for c in rows) if rows else 1
    top = max(top, 1.0)
    for y, c in enumerate(rows):
        if c.detector is None:
            ax.barh(y, top, color="none", edgecolor=MISSED, hatch="//", linewidth=0.8)
            ax.text(top * 0.01, y, "  MISSED", va="center", color=MISSED, fontweight="bold")
            continue
        minutes = (c.latency_s or 0) / 60
        ax.barh(y, max(minutes, top * 0.004), color=colours.get(c.detector, "grey"))
        ax.text(minutes + top * 0.01, y, f"{c.latency_s:.0f} s  ({c.detector})", va="center",
                fontsize=8)
    ax.set_yticks(range(len(rows)), [f"{c.scenario}\n{c.id}" for c in rows], fontsize=8)
    ax.set_xlim(0, top * 1.35)
    ax.set_xlabel("detection latency, minutes of event time after the campaign's first call")
    ax.set_title("Time to first alert per campaign (first expected detector)", loc="left")
    ax.grid(axis="x", alpha=0.3)


def _volume(ax: Axes, ev: Evaluation) -> None:
    if not ev.volume:
        return
    t = [_dt(b) for b, _, _ in ev.volume]
    total = [n for _, n, _ in ev.volume]
    fraud = [f for _, _, f in ev.volume]
    ax.fill_between(t, total, step="post", color="#90a4ae", alpha=0.6, label="all calls")
    ax.fill_between(t, fraud, step="post", color="#e53935", alpha=0.9, label="fraud calls")
    for c in ev.campaigns:
        colour = MISSED if c.detector is None else "#fbc02d"
        ax.axvline(_dt(c.start), color=colour, lw=1, ls="--", alpha=0.8)
        ax.text(_dt(c.start), max(total) * 0.98, f" {c.scenario}", rotation=90, va="top",
                fontsize=7, color=MISSED if c.detector is None else "black")
    ax.set_ylabel("calls / 5 min")
    ax.set_title("Traffic volume (event time) with campaign starts; red dashes: missed",
                 loc="left")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)


def _alerts(ax: Axes, ev: Evaluation, colours: dict[str, tuple[float, ...]]) -> None:
    lanes = sorted({i.detector for i in ev.incidents} | {d.detector for d in ev.detectors})
    false = {i.alert_id for i in ev.false_alarms}
    for inc in ev.incidents:
        y = lanes.index(inc.detector)
        colour = colours.get(inc.detector, "grey")
        ax.scatter([_dt(h.at) for h in inc.hits], [y] * len(inc.hits), s=10, color=colour,
                   alpha=0.5, linewidths=0)
        marker, edge = ("X", "black") if inc.alert_id in false else ("o", colour)
        ax.scatter([_dt(inc.first_at)], [y], s=60 if marker == "X" else 36, marker=marker,
                   color=colour, edgecolors=edge, zorder=3)
    ax.set_yticks(range(len(lanes)), lanes, fontsize=8)
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_title("Alerts by detector (big: incident opens, small: updates, X: false alarm)",
                 loc="left")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlabel("event time (UTC)")


def render(ev: Evaluation, path: Path | str, title: str = "") -> Path:
    """Write the PNG and return its path."""
    colours = palette([d.detector for d in ev.detectors])
    fig = Figure(figsize=(14, 13), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[max(len(ev.campaigns), 3) * 0.45, 2.2, 2.6])
    ax_lat = fig.add_subplot(grid[0])
    ax_vol = fig.add_subplot(grid[1])
    ax_al = fig.add_subplot(grid[2], sharex=ax_vol)
    _latency(ax_lat, ev, colours)
    _volume(ax_vol, ev)
    _alerts(ax_al, ev, colours)
    ax_vol.tick_params(labelbottom=False)
    fig.suptitle(title or "cdrwatch evaluation", fontsize=13, fontweight="bold")
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
