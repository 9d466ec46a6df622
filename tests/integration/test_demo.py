"""`cdrwatch demo` as a newcomer runs it: on the real embedded broker, in a subprocess."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.feedback import read_feedback
from streams.hotlist import LISTED
from streams.offline import detect_files
from streams.policy import Policy, load_policy
from streams.settings import DEFAULT_POLICY
from streams.verdicts import call_verdict
from streams.warnings import Warner
from tests.unit.clirun import ROOT

pytestmark = pytest.mark.integration
POLICY = load_policy(DEFAULT_POLICY)
FIXTURES = ROOT / "streams" / "fixtures"
OFFLINE = detect_files([FIXTURES / "demo.jsonl"], POLICY).result
FALSE_ALARMS = {v.alert_id for v in read_feedback(FIXTURES / "demo.feedback.jsonl")
                if v.verdict == "false_alarm"}


def _warned(policy: Policy) -> tuple[dict[str, list[str]], int]:
    """Offline detect's warnings of the fixture: the incidents warned per subscriber, and how
    many the daily cap held back."""
    warner, by = Warner(policy), {}
    for call in OFFLINE.covered:
        warning = warner.see(call_verdict(call, "IT"))
        if warning is not None:
            by.setdefault(warning.subscriber, []).append(warning.alert_id)
    return by, warner.outcomes.get("daily_cap", 0)


def _retracted_range() -> tuple[int, int]:
    """Warnings a worker retracts after the fixture's false alarms, fewest and most. Which of
    a capped subscriber's incidents get its warnings is their arrival order (documented): a
    subscriber with k warnings out of n candidate incidents, f of them false alarms, has
    between max(0, k - (n - f)) and min(k, f) retracted; otherwise exactly f."""
    capped, _ = _warned(POLICY)
    uncapped = POLICY.model_copy(update={"actions": POLICY.actions.model_copy(
        update={"warn_daily_cap": 10**6})})
    low = high = 0
    for subscriber, incidents in _warned(uncapped)[0].items():
        k, n = len(capped[subscriber]), len(incidents)
        f = sum(i in FALSE_ALARMS for i in incidents)
        low, high = low + max(0, k - (n - f)), high + min(k, f)
    return low, high


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDRWATCH_")}
    env.update(TMPDIR=str(tmp_path), COLUMNS="80", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    return subprocess.Popen([sys.executable, "-m", "streams", "demo", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _lines(proc: subprocess.Popen[str], until: str | None = None) -> list[tuple[float, str]]:
    """stdout lines with the time each arrived, up to one containing `until` (or the end)."""
    assert proc.stdout is not None
    out = []
    for line in proc.stdout:
        out.append((time.monotonic(), line.rstrip("\n")))
        if until and until in line:
            break
    return out


def test_a_full_demo_paces_itself_counts_in_integers_and_cleans_up(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--speed", "0", "--metrics-port", str(_free_port()),
                 "--timeout", "240")
    lines = _lines(proc)
    assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    text = "\n".join(line for _, line in lines)
    assert "worker ready in" in text and "Traceback" not in text
    calls = f"{len((FIXTURES / 'demo.jsonl').read_bytes().splitlines()):,}"
    assert f"replayed {calls} messages (0 invalid); worker read {calls} CDRs, dead-lettered 0" in \
        " ".join(text.split())
    assert not re.search(r"\b\d+\.0\b CDRs|dead-lettered \d+\.0", text)
    by, capped = _warned(POLICY)  # what offline detect says of the same fixture
    callbacks = sum(a.detector == "callback_risk" for a in OFFLINE.alerts)
    acted = re.search(r"acted on: ([\d,]+) calls marked under an incident \(cdr-verdicts\); "
                      r"(\d+) warnings to subscribers \(cdr-warnings\), (\d+) held back by the "
                      r"daily cap, (\d+) retracted after an analyst's false alarm; (\d+) "
                      r"callback_risk alerts \(a subscriber calling a flagged range back, "
                      r"once per incident that flagged it\)", " ".join(text.split()))
    assert acted, text[-2000:]
    marked, warned, held, retracted, called_back = (int(g.replace(",", ""))
                                                    for g in acted.groups())
    assert (marked, warned, held, called_back) == (
        len(OFFLINE.covered), sum(map(len, by.values())), capped, callbacks)
    assert callbacks >= 10  # the fixture's wangiri victims who called back, on time
    low, high = _retracted_range()
    assert 0 < low <= retracted <= high, (low, retracted, high)
    assert text.count("analyst fraud-desk: ") == 4
    listed = re.search(r"hotlist for the switch \(cdr-hotlist\): (\d+) numbers and ranges "
                       r"listed while their incident was open, (\d+) still listed",
                       " ".join(text.split()))
    listable = {a.key for a in OFFLINE.alerts if a.detector in LISTED}
    # at full speed an incident may open and resolve within one read of the alerts topic:
    # the switch then never needed it; after the last window every incident has resolved.
    assert listed and 0 < int(listed.group(1)) <= len(listable) and listed.group(2) == "0"
    rows = [t for t, line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    summary = next(t for t, line in lines if "summary: alerts by detector" in line)
    assert len(rows) == len(OFFLINE.alerts) and summary - rows[-1] < 25  # verdicts come first
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(lines)]
    assert max(gaps) < 20, gaps  # the worker's start is the longest, and it is announced
    assert all(len(line) <= 80 for _, line in lines)
    assert list(tmp_path.glob("cdrwatch-demo-*")) == []


def test_the_demo_shows_why_the_worker_stopped_and_keeps_its_logs(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        proc = _demo(tmp_path, "--metrics-port", str(busy.getsockname()[1]), "--timeout", "120")
        out, err = proc.communicate(timeout=150)
    assert proc.returncode == 1
    assert "cdrwatch demo: worker exited (1): OSError: [Errno 98] Address already in use" in err
    assert "Traceback" not in err + out
    (kept,) = tmp_path.glob("cdrwatch-demo-*")
    assert "logs kept in" in out and kept.name in out.replace("\n", "")
    assert (kept / "worker.log").exists()


def test_ctrl_c_mid_replay_stops_cleanly_and_says_what_was_sent(tmp_path: Path) -> None:
    proc = _demo(tmp_path, "--speed", "60", "--metrics-port", str(_free_port()))
    _lines(proc, until="replaying")
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # say where it hangs: faulthandler dumps every thread
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate(timeout=30)
        pytest.fail(f"the demo did not stop within 60 s of Ctrl-C; its threads:\n{err[-6000:]}")
    assert proc.returncode == 130
    assert "Traceback" not in err and "KafkaTimeoutError" not in err, err
    sent = re.search(r"replayed ([\d,]+) messages so far", " ".join(out.split()))
    assert sent and int(sent.group(1).replace(",", "")) > 0, out
    assert list(tmp_path.glob("cdrwatch-demo-*")) == []
