"""`cdrwatch worker | demo | replay | detect | generate | evaluate | baseline | hotlist |
feedback`: one entry point whose flags mirror the environment. Heavy modules (Faust, scipy,
numpy, matplotlib) are imported only by the command that uses them, so `--help` and a
mistyped path answer at once."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from streams import __version__
from streams.usage import (
    EXIT_USAGE,
    HelpFormatter,
    UsageError,
    add_policy,
    alert_privacy,
    checked_baseline,
    checked_settings,
    input_file,
    load_checked_policy,
)

if TYPE_CHECKING:
    from streams.settings import Settings

# flag -> environment variable read by streams.settings
_ENV_FLAGS = {
    "broker": "CDRWATCH_BROKER",
    "events_topic": "CDRWATCH_EVENTS_TOPIC",
    "alerts_topic": "CDRWATCH_ALERTS_TOPIC",
    "dlq_topic": "CDRWATCH_DLQ_TOPIC",
    "verdicts_topic": "CDRWATCH_VERDICTS_TOPIC",
    "warnings_topic": "CDRWATCH_WARNINGS_TOPIC",
    "feedback_topic": "CDRWATCH_FEEDBACK_TOPIC",
    "policy": "CDRWATCH_POLICY",
    "metrics_port": "CDRWATCH_METRICS_PORT",
    "log_level": "CDRWATCH_LOG_LEVEL",
    "baseline": "CDRWATCH_BASELINE",
}


# A cluster that has not answered in this long will not: a wrong address, or a TLS or SASL
# handshake it refuses (kafka-python retries those in silence until the time is up).
BOOTSTRAP_TIMEOUT_MS = 10_000


def _add_source(p: argparse.ArgumentParser) -> None:
    """What a producer of events needs: where the cluster is and which topic to write."""
    p.add_argument("--broker", help="Kafka URL, e.g. kafka://127.0.0.1:9092 (CDRWATCH_BROKER)")
    p.add_argument("--events-topic", help="CDR input topic (CDRWATCH_EVENTS_TOPIC)")
    add_policy(p)


def _apply_env(args: argparse.Namespace) -> None:
    for name, env in _ENV_FLAGS.items():
        value = getattr(args, name, None)
        if value is not None:
            os.environ[env] = str(value)


def cmd_worker(args: argparse.Namespace) -> int:
    _apply_env(args)
    policy = load_checked_policy(args.policy)  # refused here, before Faust starts
    alert_privacy(policy)
    checked_baseline(os.environ.get("CDRWATCH_BASELINE") or None, policy, "worker")
    from streams.app import app, settings
    from streams.runtime import run_worker

    run_worker(app, settings.log_level, uvloop=args.uvloop)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from streams.demo import run_demo

    return run_demo(args)


def cmd_replay(args: argparse.Namespace) -> int:
    _apply_env(args)
    files = [input_file(f) for f in args.files]
    close_after = 0
    if args.end_of_data:
        from streams.detect.families import build_families
        from streams.detect.keyed import horizon_s

        close_after = horizon_s(build_families(load_checked_policy(args.policy)))
    from kafka.errors import KafkaError

    from streams.broker import bootstrap_of, ensure_topics
    from streams.replay import replay
    from streams.security import check_tls, kafka_python_kwargs

    settings = checked_settings()
    bootstrap = bootstrap_of(settings.broker)
    security = kafka_python_kwargs(settings)
    quiet_kafka_logs()  # their retries would print lines; a failure is our one line below
    try:
        check_tls(settings, bootstrap)
        ensure_topics(bootstrap, [settings.events_topic], settings.partitions, security,
                      bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
        report = replay(files, bootstrap, settings.events_topic,
                        speed=args.speed, skip_invalid=args.skip_invalid,
                        end_of_data=args.end_of_data, close_after_s=close_after,
                        security=security)
    except (KafkaError, ConnectionError) as exc:
        raise UsageError(f"cannot reach the broker {settings.broker}: {_reason(exc)}"
                         f"{_sasl_hint(settings)}") from exc
    for source, line_no, reason in report.invalid:
        action = "skipped" if args.skip_invalid else "sent as is"
        print(f"{source}:{line_no}: invalid record ({action}): {reason}", file=sys.stderr)
    print(f"replayed {report.sent} messages to {settings.events_topic} in {report.seconds:.1f}s"
          f" ({len(report.invalid)} invalid, {report.skipped} skipped)")
    return 0


def quiet_kafka_logs() -> None:
    """kafka-python logs each failed connection attempt; with no handler of ours, Python's
    last-resort handler would print them all on stderr."""
    import logging

    logging.getLogger("kafka").addHandler(logging.NullHandler())


def _reason(exc: Exception) -> str:
    text = str(exc)
    name = type(exc).__name__
    return text if not text or text.startswith(name) or isinstance(exc, ConnectionError) \
        else f"{name}: {text}"


def _sasl_hint(settings: Settings) -> str:
    """What to check when a SASL connection fails; the user name, never the password."""
    if not settings.security_protocol.startswith("SASL_"):
        return ""
    return (f" (SASL {settings.sasl_mechanism} as {settings.sasl_username!r}: check the "
            "credentials, the mechanism and CDRWATCH_SECURITY_PROTOCOL)")


def _worker_args(p: argparse.ArgumentParser) -> None:
    _add_source(p)
    p.add_argument("--alerts-topic", help="alert output topic (CDRWATCH_ALERTS_TOPIC)")
    p.add_argument("--dlq-topic", help="dead-letter topic (CDRWATCH_DLQ_TOPIC)")
    p.add_argument("--verdicts-topic",
                   help="per-call verdicts output topic (CDRWATCH_VERDICTS_TOPIC)")
    p.add_argument("--warnings-topic",
                   help="subscriber warnings output topic (CDRWATCH_WARNINGS_TOPIC)")
    p.add_argument("--feedback-topic",
                   help="analysts' verdicts input topic (CDRWATCH_FEEDBACK_TOPIC)")
    p.add_argument("--metrics-port", type=int, help="0 = off (CDRWATCH_METRICS_PORT)")
    p.add_argument("--log-level", help="worker log level (CDRWATCH_LOG_LEVEL)")
    p.add_argument("--baseline", metavar="FILE",
                   help="warm start from `cdrwatch baseline learn` output (CDRWATCH_BASELINE)")
    p.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=True,
                   help="run on uvloop's event loop")
    p.set_defaults(func=cmd_worker)


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--speed", type=float, default=600.0, help="times real time (0 = max)")
    p.add_argument("--metrics-port", type=int, default=9108, help="the worker's /metrics port")
    add_policy(p)
    p.add_argument("--fixture", action="append", metavar="FILE",
                   help="JSONL/CSV to replay, repeatable (default: the bundled demo.jsonl)")
    p.add_argument("--feedback", metavar="FILE",
                   help="analysts' verdicts to give once every window closed (default: the "
                   "bundled demo.feedback.jsonl with the bundled fixture, none with --fixture)")
    p.add_argument("--timeout", type=float, default=300.0, help="stop after this many seconds")
    p.set_defaults(func=cmd_demo)


def _replay_args(p: argparse.ArgumentParser) -> None:
    _add_source(p)
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL or CSV (with a header)")
    p.add_argument("--speed", type=float, default=None,
                   help="times real time by event time (default: as fast as possible)")
    p.add_argument("--skip-invalid", action="store_true", help="do not send invalid lines")
    p.add_argument("--end-of-data", action="store_true",
                   help="the files are all there is: end with a watermark that closes every "
                   "window (the policy's longest window and lateness past the last call)")
    p.set_defaults(func=cmd_replay)


def _detect_args(p: argparse.ArgumentParser) -> None:
    from streams.offline_cli import add_arguments

    add_arguments(p)


def _generate_args(p: argparse.ArgumentParser) -> None:
    from streams.traffic import cli as traffic_cli

    traffic_cli.add_arguments(p)
    p.set_defaults(func=traffic_cli.run)


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    from streams import evaluate_cli as evaluation_cli

    evaluation_cli.add_arguments(p)
    p.set_defaults(func=evaluation_cli.run)


def _baseline_args(p: argparse.ArgumentParser) -> None:
    from streams import baseline_cli

    baseline_cli.add_arguments(p)


def _hotlist_args(p: argparse.ArgumentParser) -> None:
    from streams import hotlist_cli

    hotlist_cli.add_arguments(p)


def _feedback_args(p: argparse.ArgumentParser) -> None:
    from streams import feedback_cli

    feedback_cli.add_arguments(p)


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "worker": ("run the Faust worker", _worker_args),
    "demo": ("embedded broker + worker + bundled fixture, alerts live", _demo_args),
    "replay": ("produce fixture files to the events topic", _replay_args),
    "detect": ("run the detectors offline over files", _detect_args),
    "generate": ("seeded synthetic CDR traffic with labels", _generate_args),
    "evaluate": ("precision, recall and latency on labelled traffic", _evaluate_args),
    "baseline": ("learn every key's baseline from recorded traffic (warm start)",
                 _baseline_args),
    "hotlist": ("the numbers and ranges under an open incident, for a switch to load",
                _hotlist_args),
    "feedback": ("an analyst's verdict on an incident: confirmed or false_alarm",
                 _feedback_args),
}


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the line: the first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Every command is listed; only the one in `argv` (every one when None) gets its arguments,
    whose help texts import the modules they describe."""
    parser = argparse.ArgumentParser(prog="cdrwatch", description=__doc__.split("\n\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"cdrwatch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                title="commands")
    chosen = None if argv is None else _command_in(argv)
    for name, (summary, add_arguments) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary,
                           formatter_class=HelpFormatter)
        if argv is None or name == chosen:
            add_arguments(p)
    return parser


def _stdout_reader_left() -> bool:
    """Is standard output a pipe whose reading end has closed (poll reports an error)?"""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):
        return False


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    try:
        code = args.func(args)
    except UsageError as exc:
        print(f"cdrwatch: {exc}", file=sys.stderr)
        code = EXIT_USAGE
    except KeyboardInterrupt:
        print("cdrwatch: interrupted", file=sys.stderr)
        code = 130
    except BrokenPipeError:
        if not _stdout_reader_left():
            raise  # a socket or another pipe: a real failure, shown as one
        # `cdrwatch detect ... | head`: the reader left, as with SIGPIPE
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        code = 141
    sys.exit(code)
