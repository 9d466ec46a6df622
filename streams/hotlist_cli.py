"""`cdrwatch hotlist export`: the hotlist as of a moment, from an alerts file, in a format a
switch loads: CSV (an SBC's import), a Kamailio htable db_text table, or JSON."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from streams.usage import HelpFormatter, UsageError, input_file, output_file

if TYPE_CHECKING:
    from streams.events import Alert

# The columns of Kamailio's `htable` table (kamailio/src/lib/srdb1/schema/htable.xml), as
# the db_text module reads a table file: this header, then one `:`-separated row per item.
KAMAILIO_HEADER = ("id(int,auto) key_name(string) key_type(int) value_type(int) "
                   "key_value(string) expires(int)")
FORMATS = ("csv", "kamailio-htable", "json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from streams.hotlist import DEFAULT_TTL_S

    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION",
                           help="export: write the hotlist of an alerts file")
    export = sub.add_parser("export", help="the numbers and ranges under an open incident",
                            formatter_class=HelpFormatter,
                            description="the hotlist as of --at from the alerts of `cdrwatch "
                            "detect --out` (or the alerts topic): what a switch loads to block "
                            "or label calls before they ring")
    export.add_argument("--alerts", required=True, metavar="ALERTS.jsonl",
                        help="alerts, one JSON object a line")
    export.add_argument("--feedback", metavar="FEEDBACK.jsonl",
                        help="analysts' verdicts: a false alarm's incident lists nothing")
    export.add_argument("--at", metavar="RFC3339",
                        help="as of this event time (default: the latest detected_at)")
    export.add_argument("--ttl", default=str(DEFAULT_TTL_S), metavar="SECONDS",
                        help="an entry expires this long after its incident's last window")
    export.add_argument("--format", required=True, metavar="FORMAT",
                        help=f"one of {', '.join(FORMATS)}")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    export.set_defaults(func=run_export)


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    from pydantic import AwareDatetime, TypeAdapter, ValidationError

    try:
        return TypeAdapter(AwareDatetime).validate_python(text)
    except ValidationError:
        raise UsageError(f"--at {text!r} is not an RFC 3339 time with a zone, e.g. "
                         "2026-11-20T10:00:00Z") from None


def _ttl(text: str) -> float:
    try:
        ttl = float(text)
    except ValueError:
        ttl = -1.0
    if not ttl > 0:  # NaN included
        raise UsageError(f"--ttl {text!r} is not a positive number of seconds")
    return ttl


def read_alerts(path: Path) -> Iterator[Alert]:
    """Every alert of a JSONL file; a line that is not one is a UsageError naming it."""
    from pydantic import ValidationError

    from streams.events import load_alert
    from streams.usage import describe

    try:
        with path.open("rb") as lines:
            for n, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    yield load_alert(line)
                except ValidationError as exc:
                    raise UsageError(f"{path}:{n}: not an alert: {describe(exc)}") from None
    except OSError as exc:
        raise UsageError(f"--alerts {path}: {exc.strerror}") from None


def as_csv(entries: list[dict[str, object]]) -> str:
    from streams.hotlist import Entry

    out = io.StringIO()
    writer = csv.DictWriter(out, [f.name for f in fields(Entry)], lineterminator="\n")
    writer.writeheader()
    writer.writerows(entries)
    return out.getvalue()


def kamailio_value(entry: dict[str, object]) -> str:
    """action;scope;confidence;detector;alert_id: `{s.select,N,;}` reads field N."""
    return ";".join(str(entry[k]) for k in ("action", "scope", "confidence", "detector",
                                             "alert_id"))


def as_kamailio(entries: list[dict[str, object]]) -> str:
    """A db_text table file of htable items: key_name the E.164 number or range with "+",
    a string value (key_type 0, value_type 0), expires in seconds since the epoch. No field
    holds a `:` or a backslash (digits, names, hex), so nothing needs db_text's escapes."""
    rows = [KAMAILIO_HEADER]
    for n, entry in enumerate(entries, 1):
        expires = int(datetime.fromisoformat(str(entry["expires"])).timestamp())
        rows.append(f"{n}:{entry['key']}:0:0:{kamailio_value(entry)}:{expires}")
    return "\n".join(rows) + "\n"


def as_json(entries: list[dict[str, object]], at: datetime | None, ttl: float) -> str:
    import orjson

    from streams.hotlist import rfc3339

    doc = {"as_of": rfc3339(at) if at else None, "ttl_s": ttl, "entries": entries}
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"


def _warn(skipped: dict[str, set[str]]) -> None:
    why = {"pseudonymised": "keyed by a pseudonym (pn:...): the switch needs the number; "
           "export from alerts written without [privacy] pseudonymise",
           "not_e164": "keyed by a raw caller ID that is not an E.164 number"}
    for reason, ids in sorted(skipped.items()):
        print(f"cdrwatch hotlist: warning: {len(ids)} incidents left out, {why[reason]}",
              file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        raise UsageError(f"--format {args.format!r}: one of {', '.join(FORMATS)}")
    path = input_file(args.alerts, "--alerts")
    at, ttl = _at(args.at), _ttl(args.ttl)
    out = output_file(args.out, "--out") if args.out else None

    from streams.hotlist import build, entry_dict, rfc3339
    from streams.offline_cli import read_ledger

    ledger = read_ledger(args.feedback, until=at)
    entries, skipped, at = build(read_alerts(path), ttl, at, ledger.retracted())
    _warn(skipped)
    rows = [entry_dict(e) for e in entries.values()]
    render: dict[str, Callable[[], str]] = {
        "csv": lambda: as_csv(rows), "kamailio-htable": lambda: as_kamailio(rows),
        "json": lambda: as_json(rows, at, ttl)}
    text = render[args.format]()
    if out is None:
        sys.stdout.write(text)
        return 0
    out.write_text(text)
    blocked = sum(1 for e in entries.values() if e.action == "block")
    print(f"hotlist as of {rfc3339(at) if at else '-'}: {len(entries)} entries "
          f"({blocked} block, {len(entries) - blocked} label) -> {out}")
    return 0
