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

from streams.offline import detect_files
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.verdicts import call_verdict
from streams.warnings import Warner
from tests.unit.clirun import ROOT

pytestmark = pytest.mark.integration
POLICY = load_policy(DEFAULT_POLICY)
OFFLINE = detect_files([ROOT / "streams" / "fixtures" / "demo.jsonl"], POLICY).result


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
    assert "replayed 5,442 messages (0 invalid); worker read 5,442 CDRs, dead-lettered 0" in \
        " ".join(text.split())
    assert not re.search(r"\b\d+\.0\b CDRs|dead-lettered \d+\.0", text)
    warner = Warner(POLICY)  # what offline detect says of the same fixture
    warned = sum(warner.see(call_verdict(c, "IT")) is not None for c in OFFLINE.covered)
    capped = warner.outcomes.get("daily_cap", 0)
    assert (f"acted on: {len(OFFLINE.covered):,} calls marked under an incident (cdr-verdicts); "
            f"{warned} warnings to subscribers (cdr-warnings), {capped} held back by the "
            "daily cap") in " ".join(text.split())
    rows = [t for t, line in lines if re.match(r"\d\d:\d\d:\d\d ", line)]
    summary = next(t for t, line in lines if "summary: alerts by detector" in line)
    assert len(rows) == 38 and summary - rows[-1] < 6  # was 15 s of silence
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
