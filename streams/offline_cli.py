"""`cdrwatch detect`: arguments, checks before the run, the summary, and an exit code a script
can act on (rejected lines and empty input are not a success)."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import TYPE_CHECKING

from streams.usage import (
    UsageError,
    add_policy,
    alert_privacy,
    checked_baseline,
    incident_ids,
    input_file,
    load_checked_policy,
    output_file,
)

if TYPE_CHECKING:
    from datetime import datetime

    from streams.feedback import Ledger

EXIT_REJECTED = 3  # more lines rejected than --max-rejected; the alerts are still written
EXIT_NOTHING_READ = 4  # not one valid call record (empty input, wrong format or CSV header)
SHOWN_REJECTED = 20  # rejected lines printed one by one; the rest are counted


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="JSONL (one record or a JSON array per line) or CSV with a header")
    add_policy(p)
    p.add_argument("--out", metavar="ALERTS.jsonl", help="write the alerts as JSONL here")
    p.add_argument("--verdicts", metavar="VERDICTS.jsonl",
                   help="write a verdict per call an incident covers (JSONL) here")
    p.add_argument("--warnings", metavar="WARNINGS.jsonl",
                   help="write the subscriber warnings (JSONL) here: answered calls of incidents")
    p.add_argument("--feedback", metavar="FEEDBACK.jsonl",
                   help="analysts' verdicts (`cdrwatch feedback --out`): drop what a false alarm "
                   "suppressed, and end --warnings with the retractions of its warnings")
    p.add_argument("--baseline", metavar="FILE",
                   help="start every key from what it learned in `cdrwatch baseline learn` output")
    p.add_argument("--max-rejected", type=_count, default=0, metavar="N",
                   help=f"rejected records tolerated; more exit with code {EXIT_REJECTED}")
    p.set_defaults(func=run)


def exit_code(events: int, rejected: int, max_rejected: int) -> int:
    """0 clean, EXIT_NOTHING_READ when no call was read, EXIT_REJECTED past the tolerance."""
    if events == 0:
        return EXIT_NOTHING_READ
    return EXIT_REJECTED if rejected > max_rejected else 0


def _print_rejected(rejected: list[tuple[str, int, str]]) -> None:
    for source, line_no, reason in rejected[:SHOWN_REJECTED]:
        print(f"{source}:{line_no}: rejected: {reason}", file=sys.stderr)
    if len(rejected) > SHOWN_REJECTED:
        print(f"... and {len(rejected) - SHOWN_REJECTED} more rejected records", file=sys.stderr)


def read_ledger(path: str | None, until: datetime | None = None) -> Ledger:
    """The verdicts of a feedback file given by `until` (None: all), read up front (a bad
    line is a UsageError)."""
    from streams.feedback import FeedbackFileError, Ledger, read_feedback

    ledger = Ledger()
    if path is not None:
        try:
            for verdict in read_feedback(input_file(path, "--feedback")):
                if until is None or verdict.at <= until:
                    ledger.feedback(verdict)
        except FeedbackFileError as exc:
            raise UsageError(str(exc)) from None
    return ledger


def _print_feedback(ledger: Ledger, suppressed: int) -> None:
    counts = ledger.counts()
    for detector in sorted({d for d, _ in counts}):
        confirmed, false = counts[(detector, "confirmed")], counts[(detector, "false_alarm")]
        print(f"{detector:28s} {confirmed} confirmed, {false} false alarms, precision "
              f"{confirmed / (confirmed + false):.2f}")
    print(f"{len(ledger.latest)} incidents judged, {len(ledger.retracted())} false alarms, "
          f"{suppressed} alerts suppressed")
    unmatched = ledger.unmatched()
    if unmatched:
        names = ", ".join(sorted(unmatched)[:5])
        print(f"cdrwatch detect: warning: {len(unmatched)} verdicts on alert_ids not in these "
              f"alerts: {names}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    policy = load_checked_policy(args.policy)
    privacy = alert_privacy(policy)
    files = [input_file(f) for f in args.files]
    out = output_file(args.out, "--out") if args.out else None
    verdicts_out = output_file(args.verdicts, "--verdicts") if args.verdicts else None
    warnings_out = output_file(args.warnings, "--warnings") if args.warnings else None
    ledger = read_ledger(args.feedback)
    ids = incident_ids(policy)

    from streams.offline import detect_files, write_alerts
    from streams.runtime import tune_gc

    tune_gc()
    report = detect_files(files, policy, checked_baseline(args.baseline, policy, "detect"))
    _print_rejected(report.rejected)
    unmapped = report.result.unmapped_trunks
    if unmapped:
        names = ", ".join(f"{t} ({n})" for t, n in sorted(unmapped.items())[:20])
        print(f"cdrwatch detect: warning: {sum(unmapped.values())} calls on trunks missing from "
              f"the policy's [trunks] and without ingress_kind, read as national: {names}",
              file=sys.stderr)
    for misfit in report.result.misdeclared:
        print(f"cdrwatch detect: warning: {misfit.sentence()}", file=sys.stderr)
    published = [privacy(alert) for alert in report.result.alerts]
    for alert in published:
        ledger.alert(alert)
    alerts = [a for a in published if not ledger.silenced(a)]
    if out:
        write_alerts(alerts, out)
    if verdicts_out or warnings_out:
        from streams.verdicts import call_verdict, write_records

        region = policy.home_country
        verdicts = [call_verdict(c, region, ids) for c in report.result.covered]
        verdicts = [v for v in verdicts if not ledger.suppressed(v.detector, v.key, v.call_time)]
        if verdicts_out:
            write_records(verdicts, verdicts_out)
        if warnings_out:
            from streams.feedback import retractions
            from streams.warnings import Warner

            warner = Warner(policy)
            if not policy.actions.warn:  # the worker sends none either
                print("cdrwatch detect: warning: the policy's [actions] warn is false: "
                      "--warnings gets none", file=sys.stderr)
            warnings = [w for v in verdicts
                        if policy.actions.warn and (w := warner.see(v)) is not None]
            withdrawn = retractions(warnings, ledger)
            write_records([*warnings, *withdrawn], warnings_out)
        print(f"{len(verdicts)} calls under incidents"
              + (f", {warner.outcomes.get('issued', 0)} subscribers warned, {len(withdrawn)} "
                 "warnings retracted" if warnings_out else ""))
    if args.feedback:
        _print_feedback(ledger, len(published) - len(alerts))
    by = Counter((a.detector, a.status) for a in alerts)
    for (detector, status), n in sorted(by.items()):
        print(f"{detector:28s} {status:9s} {n}")
    events, rejected = report.result.events, len(report.rejected)
    print(f"{events} events, {len(alerts)} alerts, "
          f"{rejected} rejected, {report.events_per_s:,.0f} events/s")
    code = exit_code(events, rejected, args.max_rejected)
    sources = ", ".join(args.files)
    if code == EXIT_NOTHING_READ and not rejected:
        print(f"cdrwatch: no call record in {sources}: the input is empty", file=sys.stderr)
    elif code == EXIT_NOTHING_READ:
        print(f"cdrwatch: no valid call record in {sources} ({rejected} rejected): is it JSONL, "
              "or CSV with a header and a .csv name?", file=sys.stderr)
    elif code == EXIT_REJECTED:
        print(f"cdrwatch: {rejected} records rejected (--max-rejected {args.max_rejected}); "
              f"exit code {EXIT_REJECTED}", file=sys.stderr)
    return code
