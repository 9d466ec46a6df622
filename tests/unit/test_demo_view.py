"""The demo's terminal output at 80 and 200 columns: nothing cut, counts as whole numbers,
rows in event-time order, and the worker's own reason when it stops."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from streams.demo import worker_error
from streams.demo_view import alert_lines, count, header, in_event_order, summary_table
from streams.events import Alert

T0 = datetime(2026, 11, 20, 9, 35, tzinfo=UTC)
WHY = ("caller ID +394010086 is on the operator's do-not-originate list, yet it was presented "
       "on trunk INTL-TATA-1 (international). 1 such call(s) to 1 subscriber(s) in this "
       "60-min window")


def _alert(detector: str = "spoof_domestic_from_abroad", minutes: int = 0,
           key: str = "+393201010086", why: str = WHY, baseline: float | None = 2.25) -> Alert:
    at = T0 + timedelta(minutes=minutes)
    return Alert(alert_id=f"a{minutes}{detector}", detector=detector, severity="critical",
                 score=1.0, key=key, window_start=at, window_end=at + timedelta(minutes=5),
                 detected_at=at, observed=41, baseline=baseline, record_ids=["r1"],
                 explanation=why, status="open")


@pytest.mark.parametrize("width", [80, 200])
def test_an_alert_fits_the_width_with_nothing_cut(width: int) -> None:
    alert = _alert()
    lines = alert_lines(alert, width)
    assert all(len(line) <= width for line in lines), [len(x) for x in lines]
    first = lines[0].split()
    assert first[:6] == ["09:35:00", "spoof_domestic_from_abroad", "open", "+393201010086",
                         "41", "2.25"]
    text = " ".join(" ".join(lines).split())
    assert "critical" in text and " ".join(WHY.split()) in text
    assert all(len(line) <= width for line in header(width).splitlines())


def test_at_80_columns_the_explanation_is_indented_under_the_row() -> None:
    lines = alert_lines(_alert(), 80)
    assert len(lines) >= 3 and all(line.startswith(" " * 9) for line in lines[1:])
    assert lines[1].split()[0] == "critical:"


def test_at_200_columns_the_explanation_follows_on_the_row() -> None:
    lines = alert_lines(_alert(), 200)
    assert "critical caller ID +394010086" in " ".join(lines[0].split())
    assert len(lines) <= 2


def test_rows_that_arrived_together_are_shown_in_event_time_order() -> None:
    late, early = _alert(minutes=5, detector="burst_range"), _alert(minutes=0)
    assert in_event_order([late, early]) == [early, late]


@pytest.mark.parametrize("width", [80, 200])
def test_summary_table_keeps_names_whole_and_counts_whole(width: int) -> None:
    alerts = [_alert(detector=d, key=k, minutes=i) for i, (d, k) in enumerate([
        ("spoof_domestic_from_abroad", "+393201010086"), ("spoof_unverified_roaming", "+39320"),
        ("spoof_protected", "+394010086"), ("burst_country", "+216"),
    ] * 3)]
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(summary_table(alerts))
    text = out.getvalue()
    assert "…" not in text and all(len(line) <= width for line in text.splitlines())
    for name in ("spoof_domestic_from_abroad", "spoof_unverified_roaming", "+393201010086"):
        assert name in text
    assert count(5442.0) == "5,442" and count(0.0) == "0" and count(None) == "?"


def test_the_worker_error_line_is_its_own_message_or_the_exception(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text("INFO starting\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
                   "OSError: [Errno 98] Address already in use\nINFO stopping\n"
                   "Traceback (most recent call last):\n  File \"y.py\", line 2\n"
                   "RuntimeError: Event loop is closed\n")
    assert worker_error(log) == "OSError: [Errno 98] Address already in use"
    log.write_text("cdrwatch: policy file p.toml: key 'bursts.window_s': too small\n")
    assert worker_error(log) == "cdrwatch: policy file p.toml: key 'bursts.window_s': too small"
