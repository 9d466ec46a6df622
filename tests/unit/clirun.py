"""Run the real `cdrwatch` command line in a subprocess, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cdrwatch(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
             cwd: Path | None = None, python: tuple[str, ...] = ()
             ) -> subprocess.CompletedProcess[str]:
    """`python [PYTHON] -m streams ARGS` of this checkout; environment without CDRWATCH_*
    unless given."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("CDRWATCH_")}
    return subprocess.run([sys.executable, *python, "-m", "streams", *args], capture_output=True,
                          text=True, timeout=timeout, env={**base, **(env or {})},
                          cwd=cwd or ROOT)


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single `cdrwatch: ...` line a user error must be, never a traceback."""
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cdrwatch: "), proc.stderr
    return lines[0]
