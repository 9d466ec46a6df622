"""The command line a user meets: one-line errors with exit code 2 before any work, honest exit
codes from `detect`, help that lists and explains everything, and a quick start."""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import orjson
import pytest

from streams.cli import COMMANDS, build_parser
from streams.offline_cli import EXIT_NOTHING_READ, EXIT_REJECTED
from tests.unit.clirun import ROOT, cdrwatch, one_error_line

RECORD = {"record_id": "r1", "start_time": "2026-11-20T10:00:00Z", "duration_s": 5,
          "answered": True, "calling_number": "+393331234567", "called_number": "3331234568",
          "ingress_trunk": "NAT-TIM-1"}
CSV_HEADER = "record_id,start_time,duration_s,answered,calling_number,called_number,ingress_trunk"
CSV_ROW = "r1,2026-11-20T10:00:00Z,5,true,+393331234567,3331234568,NAT-TIM-1"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_bytes(orjson.dumps(RECORD) + b"\n")
    return path


@pytest.mark.parametrize("argv, named", [
    (["detect", "{tmp}/missing.jsonl"], "{tmp}/missing.jsonl does not exist"),
    (["detect", "{tmp}"], "{tmp} is a directory"),
    (["detect", "{good}", "--out", "{tmp}/no/such/dir/a.jsonl"], "directory {tmp}/no/such/dir"),
    (["detect", "{good}", "--out", "{tmp}"], "--out {tmp} is a directory"),
    (["replay", "{tmp}/missing.jsonl", "--broker", "kafka://127.0.0.1:1"], "does not exist"),
    (["demo", "--fixture", "{tmp}/missing.jsonl"], "{tmp}/missing.jsonl does not exist"),
    (["generate", "--out", "{tmp}/no/day.jsonl"], "--out {tmp}/no/day.jsonl"),
    (["evaluate", "--events", "{tmp}/missing.jsonl"], "--events {tmp}/missing.jsonl does not"),
    # checked before a day of traffic is generated and scored, not after
    (["evaluate", "--generate", "--json", "{tmp}/no/ev.json"], "--json {tmp}/no/ev.json"),
    (["evaluate", "--generate", "--chart", "{tmp}"], "--chart {tmp} is a directory"),
])
def test_a_path_mistake_is_one_line_naming_it_with_exit_code_2(
        tmp_path: Path, good: Path, argv: list[str], named: str) -> None:
    subs = {"tmp": str(tmp_path), "good": str(good)}
    started = time.monotonic()
    proc = cdrwatch(*(a.format(**subs) for a in argv))
    assert proc.returncode == 2, proc.stderr
    assert named.format(**subs) in one_error_line(proc)
    assert time.monotonic() - started < 15  # no work done first


@pytest.mark.parametrize("name, text, reason", [
    ("empty.jsonl", "", "the input is empty"),
    ("semicolons.csv", CSV_HEADER.replace(",", ";") + "\n" + CSV_ROW.replace(",", ";"),
     "1 rejected"),
    ("wrong-header.csv", "id,when\nr1,2026-11-20T10:00:00Z\n", "1 rejected"),
    ("named.txt", CSV_HEADER + "\n" + CSV_ROW + "\n", "2 rejected"),
])
def test_detect_fails_when_no_valid_record_was_read(tmp_path: Path, name: str, text: str,
                                                    reason: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    proc = cdrwatch("detect", str(path))
    assert proc.returncode == EXIT_NOTHING_READ == 4, proc.stderr
    assert "cdrwatch: no " in proc.stderr and reason in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_same_records_as_csv_are_read(tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text(CSV_HEADER + "\n" + CSV_ROW + "\n")
    proc = cdrwatch("detect", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "1 events, 0 alerts, 0 rejected" in proc.stdout


def test_detect_exit_code_tells_rejected_lines_apart(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(orjson.dumps(RECORD) + b"\nnot json\n" + b"{}\n")
    proc = cdrwatch("detect", str(path), "--out", str(tmp_path / "a.jsonl"))
    assert proc.returncode == EXIT_REJECTED == 3, proc.stderr
    assert f"{path}:2: rejected: not JSON" in proc.stderr
    assert "cdrwatch: 2 records rejected (--max-rejected 0); exit code 3" in proc.stderr
    assert (tmp_path / "a.jsonl").exists()  # the alerts are written all the same
    assert cdrwatch("detect", str(path), "--max-rejected", "2").returncode == 0
    assert cdrwatch("detect", str(path), "--max-rejected", "1").returncode == 3


def test_detect_prints_the_first_rejected_lines_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("x\n" * 30)
    proc = cdrwatch("detect", str(path))
    assert proc.returncode == 4
    assert proc.stderr.count(": rejected: not JSON") == 20
    assert "... and 10 more rejected records" in proc.stderr


def test_detect_reads_the_policy_the_worker_reads(tmp_path: Path, good: Path) -> None:
    missing = tmp_path / "missing.toml"
    proc = cdrwatch("detect", str(good), env={"CDRWATCH_POLICY": str(missing)})
    assert proc.returncode == 2
    assert one_error_line(proc) == (
        f"cdrwatch: policy file {missing} does not exist (from CDRWATCH_POLICY)")
    bad = tmp_path / "bad.toml"
    bad.write_text("[bursts]\nmin_count = 0\n")
    proc = cdrwatch("detect", str(good), env={"CDRWATCH_POLICY": str(bad)})
    assert proc.returncode == 2 and "key 'bursts.min_count'" in one_error_line(proc)


@pytest.mark.parametrize("toml, key", [
    ('[protected_numbers]\nnumbers = ["4010086", "not-a-number"]\n',
     "key 'protected_numbers.numbers[1]': 'not-a-number' is not a phone number"),
    ('[protected_numbers]\nprefixes = ["39400"]\n', "key 'protected_numbers.prefixes[0]'"),
    ('[allowlist]\ncalling_numbers = ["call-centre"]\n', "key 'allowlist.calling_numbers[0]'"),
])
def test_a_policy_entry_that_is_not_a_number_is_refused(tmp_path: Path, good: Path, toml: str,
                                                        key: str) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(toml)
    proc = cdrwatch("detect", str(good), "--policy", str(policy))
    assert proc.returncode == 2 and key in one_error_line(proc)


@pytest.mark.parametrize("argv, message", [
    (["generate", "--home", "XX", "--out", "-"], "generate: --home: unknown ISO region 'XX'"),
    (["evaluate", "--generate", "--hours", "-1"], "--hours: Input should be greater than 0"),
])
def test_a_bad_flag_value_is_named_by_its_flag(argv: list[str], message: str) -> None:
    proc = cdrwatch(*argv)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert message in line and "pydantic.dev" not in line


def test_version() -> None:
    proc = cdrwatch("--version")
    assert proc.returncode == 0 and re.fullmatch(r"cdrwatch \d+\.\d+\.\d+\n", proc.stdout)


def test_top_level_help_lists_every_command() -> None:
    out = " ".join(cdrwatch("--help").stdout.split())
    for name, (summary, _) in COMMANDS.items():
        assert f"{name} {summary}" in out


def _commands() -> dict[str, argparse.ArgumentParser]:
    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_flag_has_help_and_every_default_is_shown(name: str) -> None:
    parser = _commands()[name]
    shown = " ".join(cdrwatch(name, "--help").stdout.split())
    for action in parser._actions:
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        default = action.default
        if action.option_strings and default not in (None, False, [], argparse.SUPPRESS) \
                and action.dest != "help":
            assert f"(default: {default})" in shown, (name, action.dest)


def test_replay_takes_no_worker_only_flags() -> None:
    shown = cdrwatch("replay", "--help").stdout
    for flag in ("--alerts-topic", "--dlq-topic", "--metrics-port", "--log-level"):
        assert flag not in shown
    assert "--broker" in shown and "--events-topic" in shown


def test_generate_says_where_the_labels_go_and_writes_them_there(tmp_path: Path) -> None:
    shown = " ".join(cdrwatch("generate", "--help").stdout.split())
    assert "day.jsonl -> day.labels.jsonl" in shown and "day.campaigns.json" in shown
    proc = cdrwatch("generate", "--hours", "0.05", "--out", str(tmp_path / "day.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "day.labels.jsonl").exists() and (tmp_path / "day.campaigns.json").exists()


def _imported(*argv: str) -> set[str]:
    proc = cdrwatch(*argv, python=("-X", "importtime"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
            if line.startswith("import time:")}


@pytest.mark.parametrize("argv, heavy", [
    (["detect", "--help"], {"scipy.stats", "matplotlib", "faust", "numpy", "kafka"}),
    (["--help"], {"scipy.stats", "matplotlib", "faust", "numpy", "kafka", "pydantic"}),
    (["evaluate", "--help"], {"scipy.stats", "matplotlib", "faust", "kafka"}),
    (["replay", "--help"], {"scipy.stats", "matplotlib", "faust", "kafka"}),
])
def test_help_does_not_import_the_heavy_modules(argv: list[str], heavy: set[str]) -> None:
    assert heavy.isdisjoint(_imported(*argv))


def _readme_commands() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Commands", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `cdrwatch (\w+)([^`]*)` \|", section, flags=re.M)
    return {name: synopsis for name, synopsis in rows}


def test_readme_command_table_matches_the_help() -> None:
    rows = _readme_commands()
    assert set(rows) == set(COMMANDS)
    for name, parser in _commands().items():
        # a command with actions (`baseline learn`) is read with its actions' flags
        actions = [*parser._actions, *(a for sub in parser._actions
                                       if isinstance(sub, argparse._SubParsersAction)
                                       for p in sub.choices.values() for a in p._actions)]
        optional = {s for a in actions if not a.required for s in a.option_strings}
        required = {s for a in actions if a.required for s in a.option_strings}
        synopsis = rows[name]
        bracketed = set(re.findall(r"\[[^\]]*?(--[\w-]+)", synopsis))
        bare = set(re.findall(r"(--[\w-]+)", re.sub(r"\[[^\]]*\]", "", synopsis)))
        assert bracketed <= optional, (name, bracketed - optional)
        assert bare <= required, (name, bare - required)
        positional = [a for a in actions if not a.option_strings]
        for action in positional:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert f"{action.metavar}..." in synopsis, (name, action.metavar)


def test_replay_to_a_broker_that_does_not_answer_is_one_line(good: Path) -> None:
    proc = cdrwatch("replay", str(good), "--broker", "kafka://127.0.0.1:1", timeout=120)
    assert proc.returncode == 2
    assert "cannot reach the broker kafka://127.0.0.1:1" in one_error_line(proc)


def test_worker_refuses_a_missing_policy_before_starting(tmp_path: Path) -> None:
    proc = cdrwatch("worker", "--policy", str(tmp_path / "p.toml"))
    assert proc.returncode == 2
    assert one_error_line(proc) == f"cdrwatch: policy file {tmp_path / 'p.toml'} does not exist"


def test_a_reader_that_leaves_early_ends_detect_quietly() -> None:
    """`cdrwatch detect FILE | head -1`: what it prints after the reader left meets a closed
    pipe; here the reader has left before the first line."""
    import os
    import subprocess
    import sys

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "streams", "detect",
                               str(ROOT / "streams" / "fixtures" / "demo.jsonl")], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr
