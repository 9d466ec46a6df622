"""The installed set resolves, and the Faust pin keeps out the releases that break rebalances."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from tests.unit.deploy_files import ROOT, SETTINGS_ENV

# faust-streaming 0.13.1 to 0.15.1 fail every rebalance when opentracing is not installed.
FAUST_FLOOR = (0, 15, 2)
DOCUMENTS = ["Dockerfile", "README.md", "deploy/**/*", "docs/operator-guide.md"]


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_pip_check_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_faust_is_pinned_above_the_broken_releases() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (spec,) = [d for d in project["dependencies"] if d.startswith("faust-streaming")]
    floor = re.search(r">=\s*([\d.]+)", spec)
    assert floor and _release(floor.group(1)) >= FAUST_FLOOR, spec
    assert _release(version("faust-streaming")) >= FAUST_FLOOR


def test_every_cdrwatch_name_in_deploy_files_and_docs_is_a_setting() -> None:
    """Settings ignores unknown names (extra="ignore"): a typo would be silently dropped."""
    files = sorted({p for pattern in DOCUMENTS for p in ROOT.glob(pattern) if p.is_file()})
    assert any(p.suffix == ".yaml" for p in files)
    unknown: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for name in set(re.findall(r"\bCDRWATCH_[A-Z0-9_]*[A-Z0-9]\b", text)) - SETTINGS_ENV:
            unknown.setdefault(name, set()).add(str(Path(path).relative_to(ROOT)))
    assert not unknown, f"names Settings does not read: {unknown}"
