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
from matplotlib.lines import Line2D

from streams.evaluation.report import clock, secs
from streams.evaluation.scoring import CampaignOutcome, Evaluation

MISSED = "#c62828"


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def palette(detectors: list[str]) -> dict[str, tuple[float, ...]]:
    """One stable colour per detector, the same in every panel."""
    cmap = colormaps["tab20"]
    order = [*range(0, 20, 2), *range(1, 20, 2)]  # strong hues first, pale ones after
    return {d: cmap(order[i % 20]) for i, d in enumerate(sorted(detectors))}


# The latency axis is logarithmic in seconds: zero-second detections and a 40-minute ramp
# both stay readable. Bars start at LEFT; a detection at the first call is drawn to FLOOR.
LEFT, FLOOR = 0.5, 1.0
TICKS = [(1, "1 s"), (10, "10 s"), (60, "1 min"), (600, "10 min"), (3600, "1 h"),
         (6 * 3600, "6 h"), (86400, "1 day")]
DETECTED = "#fbc02d"


def campaign_label(c: CampaignOutcome) -> str:
    """Scenario and start time; the campaign id only when it says more than the scenario."""
    extra = "" if c.id.startswith(c.scenario) else f" ({c.id})"
    return f"{c.scenario}{extra}\nstarts {clock(c.start)}"


def bar_label(c: CampaignOutcome) -> str:
    if c.detector is None:
        return "MISSED by every expected detector"
    when = "on its first call" if not c.latency_s else f"after {secs(c.latency_s)}"
    return f"{when}  ·  {c.detector}"


def _latency(ax: Axes, ev: Evaluation, colours: dict[str, tuple[float, ...]]) -> None:
    rows = list(reversed(ev.campaigns))
    slowest = max((c.latency_s or 0 for c in rows), default=0.0)
    right = max(slowest, 60.0) * 30  # room for the labels right of the longest bar
    for y, c in enumerate(rows):
        if c.detector is None:
            ax.barh(y, right - LEFT, left=LEFT, color="none", edgecolor=MISSED, hatch="//",
                    linewidth=0.8)
            ax.text(FLOOR, y, bar_label(c), va="center", color=MISSED, fontweight="bold",
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
            continue
        end = max(c.latency_s or 0, FLOOR)
        ax.barh(y, end - LEFT, left=LEFT, color=colours.get(c.detector, "grey"))
        ax.text(end * 1.15, y, bar_label(c), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(LEFT, right)
    shown = [(t, name) for t, name in TICKS if t <= right]
    ax.set_xticks([t for t, _ in shown], [name for _, name in shown])
    ax.minorticks_off()
    ax.set_yticks(range(len(rows)), [campaign_label(c) for c in rows], fontsize=8)
    ax.set_xlabel("time to first alert, event time after the campaign's first call "
                  "(log scale)")
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
        colour = MISSED if c.detector is None else DETECTED
        ax.axvline(_dt(c.start), color=colour, lw=1, ls="--", alpha=0.8)
        ax.text(_dt(c.start), max(total) * 0.98, f" {c.scenario}", rotation=90, va="top",
                fontsize=7, color=MISSED if c.detector is None else "black")
    handles, _ = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color=DETECTED, ls="--", label="campaign start, detected"),
                Line2D([], [], color=MISSED, ls="--", label="campaign start, missed")]
    ax.set_ylabel("calls / 5 min")
    ax.set_title("Traffic volume (event time) with campaign starts", loc="left")
    ax.legend(handles=handles, loc="upper left", fontsize=8)
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
