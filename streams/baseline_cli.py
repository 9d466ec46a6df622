"""`cdrwatch baseline learn`: a recorded period in, the learned state of every key out, for a
worker (`CDRWATCH_BASELINE`) or `cdrwatch detect --baseline` to start from."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime

from streams.usage import add_policy, input_file, load_checked_policy, output_file


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION",
                           help="learn: build a baseline from recorded files")
    learn = sub.add_parser("learn", help="learn every key's baseline from recorded traffic",
                           description="run the detectors over recorded files, close every "
                           "window, and keep what each range and country learned")
    learn.add_argument("files", nargs="+", metavar="FILE",
                       help="JSONL or CSV, in event-time order (a week is the usual choice)")
    learn.add_argument("--out", required=True, metavar="BASELINE",
                       help="write the baseline here (MessagePack)")
    add_policy(learn)
    learn.set_defaults(func=run_learn)


def run_learn(args: argparse.Namespace) -> int:
    policy = load_checked_policy(args.policy)
    files = [input_file(f) for f in args.files]
    out = output_file(args.out, "--out")

    from streams.detect.baseline import write
    from streams.offline import detect_files, learn_baseline
    from streams.offline_cli import EXIT_NOTHING_READ
    from streams.runtime import tune_gc

    tune_gc()
    report = detect_files(files, policy)
    if report.result.events == 0:
        print(f"cdrwatch: no valid call record in {', '.join(args.files)}: nothing to learn",
              file=sys.stderr)
        return EXIT_NOTHING_READ
    baseline = learn_baseline(report, policy)
    write(baseline, out)
    per = Counter(f for f, _, _ in baseline.states)
    until = datetime.fromtimestamp(baseline.until, tz=UTC).isoformat(timespec="minutes")
    print(f"learned {len(baseline.states)} keys from {report.result.events} calls "
          f"(until {until}, {len(report.rejected)} rejected): "
          + ", ".join(f"{f} {n}" for f, n in sorted(per.items())) + f" -> {out}")
    return 0
