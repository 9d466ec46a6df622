"""`cdrwatch worker | demo | replay | detect | generate`: one entry point, flags mirror env."""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from streams.policy import PolicyError, load_policy
from streams.runtime import run_worker, tune_gc

# flag -> environment variable read by streams.settings
_ENV_FLAGS = {
    "broker": "CDRWATCH_BROKER",
    "events_topic": "CDRWATCH_EVENTS_TOPIC",
    "alerts_topic": "CDRWATCH_ALERTS_TOPIC",
    "dlq_topic": "CDRWATCH_DLQ_TOPIC",
    "policy": "CDRWATCH_POLICY",
    "metrics_port": "CDRWATCH_METRICS_PORT",
    "log_level": "CDRWATCH_LOG_LEVEL",
}


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", help="Kafka URL, e.g. kafka://127.0.0.1:9092 (CDRWATCH_BROKER)")
    p.add_argument("--events-topic", help="CDR input topic (CDRWATCH_EVENTS_TOPIC)")
    p.add_argument("--alerts-topic", help="alert output topic (CDRWATCH_ALERTS_TOPIC)")
    p.add_argument("--dlq-topic", help="dead-letter topic (CDRWATCH_DLQ_TOPIC)")
    p.add_argument("--policy", help="operator policy TOML (CDRWATCH_POLICY)")
    p.add_argument("--metrics-port", type=int, help="0 = off (CDRWATCH_METRICS_PORT)")
    p.add_argument("--log-level", help="worker log level (CDRWATCH_LOG_LEVEL)")


def _apply_env(args: argparse.Namespace) -> None:
    for name, env in _ENV_FLAGS.items():
        value = getattr(args, name, None)
        if value is not None:
            os.environ[env] = str(value)


def _check_policy() -> int:
    from streams.settings import Settings

    try:
        load_policy(Settings().policy)
    except PolicyError as exc:
        print(f"cdrwatch: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    _apply_env(args)
    if rc := _check_policy():
        return rc
    from streams.app import app, settings

    run_worker(app, settings.log_level, uvloop=args.uvloop)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(args)


def cmd_replay(args: argparse.Namespace) -> int:
    _apply_env(args)
    from streams.broker import bootstrap_of, ensure_topics
    from streams.replay import replay
    from streams.settings import Settings

    settings = Settings()
    bootstrap = bootstrap_of(settings.broker)
    ensure_topics(bootstrap, [settings.events_topic], settings.partitions)
    close_after = 0
    if args.end_of_data:
        from streams.detect.families import build_families
        from streams.detect.keyed import horizon_s

        try:
            close_after = horizon_s(build_families(load_policy(settings.policy)))
        except PolicyError as exc:
            print(f"cdrwatch: {exc}", file=sys.stderr)
            return 2
    report = replay([Path(f) for f in args.files], bootstrap, settings.events_topic,
                    speed=args.speed, skip_invalid=args.skip_invalid,
                    end_of_data=args.end_of_data, close_after_s=close_after)
    for source, line_no, reason in report.invalid:
        action = "skipped" if args.skip_invalid else "sent as is"
        print(f"{source}:{line_no}: invalid record ({action}): {reason}", file=sys.stderr)
    print(f"replayed {report.sent} messages to {settings.events_topic} in {report.seconds:.1f}s"
          f" ({len(report.invalid)} invalid, {report.skipped} skipped)")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from streams.offline import detect_files, write_alerts

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(f"cdrwatch: {exc}", file=sys.stderr)
        return 2
    tune_gc()
    report = detect_files([Path(f) for f in args.files], policy)
    for source, line_no, reason in report.rejected:
        print(f"{source}:{line_no}: rejected: {reason}", file=sys.stderr)
    unmapped = report.result.unmapped_trunks
    if unmapped:
        names = ", ".join(f"{t} ({n})" for t, n in sorted(unmapped.items())[:20])
        print(f"cdrwatch detect: warning: {sum(unmapped.values())} calls on trunks missing from "
              f"the policy's [trunks] and without ingress_kind, read as national: {names}",
              file=sys.stderr)
    if args.out:
        write_alerts(report.result.alerts, Path(args.out))
    by = Counter((a.detector, a.status) for a in report.result.alerts)
    for (detector, status), n in sorted(by.items()):
        print(f"{detector:28s} {status:9s} {n}")
    print(f"{report.result.events} events, {len(report.result.alerts)} alerts, "
          f"{len(report.rejected)} rejected, {report.events_per_s:,.0f} events/s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from streams.settings import DEFAULT_POLICY

    parser = argparse.ArgumentParser(prog="cdrwatch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run the Faust worker")
    _add_common(p)
    p.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("demo", help="embedded broker + worker + bundled fixture, alerts live")
    p.add_argument("--speed", type=float, default=600.0, help="times real time (0 = max)")
    p.add_argument("--metrics-port", type=int, default=9108)
    p.add_argument("--policy", default=str(DEFAULT_POLICY))
    p.add_argument("--fixture", action="append", help="JSONL/CSV to replay (default: bundled)")
    p.add_argument("--timeout", type=float, default=300.0, help="stop after this many seconds")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("replay", help="produce fixture files to the events topic")
    _add_common(p)
    p.add_argument("files", nargs="+")
    p.add_argument("--speed", type=float, default=None, help="times real time by event time")
    p.add_argument("--skip-invalid", action="store_true", help="do not send invalid lines")
    p.add_argument("--end-of-data", action="store_true",
                   help="the files are all there is: end with a watermark that closes every "
                   "window (the policy's longest window and lateness past the last call)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("detect", help="run the detectors offline over files")
    p.add_argument("files", nargs="+")
    p.add_argument("--policy", default=str(DEFAULT_POLICY))
    p.add_argument("--out", help="write alerts as JSONL here")
    p.set_defaults(func=cmd_detect)

    from streams.traffic import cli as traffic_cli

    p = sub.add_parser("generate", help="seeded synthetic CDR traffic with labels")
    traffic_cli.add_arguments(p)
    p.set_defaults(func=traffic_cli.run)

    from streams.evaluation import cli as evaluation_cli

    p = sub.add_parser("evaluate", help="precision, recall and latency on labelled traffic")
    evaluation_cli.add_arguments(p)
    p.set_defaults(func=evaluation_cli.run)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.func(args))
