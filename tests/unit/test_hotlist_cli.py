"""`cdrwatch hotlist export`: each format read back as its loader reads it, and a user's
mistake as one line with exit code 2."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from streams.events import dump_alert
from streams.hotlist import build, entry_dict
from streams.hotlist_cli import KAMAILIO_HEADER, as_csv, as_json, as_kamailio
from tests.unit.clirun import cdrwatch, one_error_line
from tests.unit.test_hotlist import T0, alert

ALERTS = [alert(at=1), alert("wangiri_range", "+21621430", severity="high", score=0.85, at=2),
          alert("spoof_velocity", "+393201010086", at=3)]
# db_text's row syntax for Kamailio's htable table: id:key_name:key_type:value_type:
# key_value:expires, a `:` inside a field escaped as `\:` (none is needed here).
KAMAILIO_ROW = re.compile(r"(\d+):(\+\d+):0:0:(block|label);(any|international|unverified);"
                          r"([\d.]+);([a-z_]+);([0-9a-f]{20}):(\d+)")


@pytest.fixture
def rows() -> list[dict[str, object]]:
    return [entry_dict(e) for e in build(ALERTS).entries.values()]


def test_csv_reads_back_with_a_header(rows: list[dict[str, object]]) -> None:
    got = list(csv.DictReader(io.StringIO(as_csv(rows))))
    assert [r["key"] for r in got] == ["+21621430", "+393201010086", "+6391755"]
    assert got[0]["action"] == "block" and got[1]["scope"] == "international"
    assert got == [{k: str(v) for k, v in r.items()} for r in rows]


def test_json_reads_back_with_the_moment_it_is_as_of(rows: list[dict[str, object]]) -> None:
    doc = orjson.loads(as_json(rows, T0, 3600.0))
    assert doc == {"as_of": "2026-11-20T09:00:00Z", "ttl_s": 3600.0, "entries": rows}


def test_kamailio_lines_are_a_db_text_htable_table(rows: list[dict[str, object]]) -> None:
    header, *lines = as_kamailio(rows).splitlines()
    assert header == KAMAILIO_HEADER
    for n, (line, row) in enumerate(zip(lines, rows, strict=True), 1):
        match = KAMAILIO_ROW.fullmatch(line)
        assert match, line
        assert match.group(1, 2, 3, 6, 7) == (str(n), row["key"], row["action"],
                                              row["detector"], row["alert_id"])
        expires = datetime.fromisoformat(str(row["expires"])).timestamp()
        assert int(match.group(8)) == expires


def test_export_writes_the_file_and_says_what_it_holds(tmp_path: Path) -> None:
    alerts, out = tmp_path / "alerts.jsonl", tmp_path / "hotlist.csv"
    alerts.write_bytes(b"".join(dump_alert(a) + b"\n" for a in ALERTS))
    proc = cdrwatch("hotlist", "export", "--alerts", str(alerts), "--format", "csv",
                    "--at", "2026-11-20T09:02:30Z", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "2 entries (1 block, 1 label)" in proc.stdout  # velocity's alert came after
    assert out.read_text().count("\n") == 3


def test_pseudonymised_alerts_are_left_out_with_one_warning(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.jsonl"
    alerts.write_bytes(dump_alert(alert("spoof_velocity", "pn:0123456789abcdef")) + b"\n")
    proc = cdrwatch("hotlist", "export", "--alerts", str(alerts), "--format", "json")
    assert proc.returncode == 0 and orjson.loads(proc.stdout)["entries"] == []
    assert proc.stderr.count("\n") == 1 and "1 incidents left out" in proc.stderr
    assert "[privacy] pseudonymise" in proc.stderr


@pytest.mark.parametrize("content, argv, named", [
    (None, [], "--alerts {tmp}/alerts.jsonl does not exist"),
    (b'{"alert_id": "x"}\n', [], "{tmp}/alerts.jsonl:1: not an alert: detector: Field required"),
    (b"not json\n", [], "{tmp}/alerts.jsonl:1: not an alert"),
    (b"", ["--format", "xml"], "--format 'xml': one of csv, kamailio-htable, json"),
    (b"", ["--at", "2026-11-20T10:00:00"], "--at '2026-11-20T10:00:00' is not an RFC 3339"),
    (b"", ["--ttl", "0"], "--ttl '0' is not a positive number"),
    (b"", ["--out", "{tmp}/no/h.csv"], "--out {tmp}/no/h.csv: directory"),
])
def test_a_mistake_is_one_line_with_exit_code_2(tmp_path: Path, content: bytes | None,
                                                argv: list[str], named: str) -> None:
    alerts = tmp_path / "alerts.jsonl"
    if content is not None:
        alerts.write_bytes(content)
    args = ["--format", "csv", *argv] if "--format" not in argv else argv
    proc = cdrwatch("hotlist", "export", "--alerts", str(alerts),
                    *(a.format(tmp=tmp_path) for a in args))
    assert proc.returncode == 2, proc.stderr
    assert named.format(tmp=tmp_path) in one_error_line(proc)
