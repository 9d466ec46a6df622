"""`cdrwatch demo`: embedded broker, a worker, the bundled fixture replayed, alerts live.

Every wait says what it waits for; the replay starts once the worker has joined its group, so
the rows come at the replay's pace; the demo ends when the worker's event time has passed the
replay's last watermark (every window closed), not after a fixed silence.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.status import Status

from streams.broker import EmbeddedBroker, ensure_topics, stop_process
from streams.demo_view import alert_markup, count, header, in_event_order, summary_table
from streams.events import Alert, AnalystFeedback, load_alert
from streams.feedback import FeedbackFileError, read_feedback
from streams.replay import ReplayReport, replay
from streams.security import kafka_python_kwargs
from streams.usage import (
    UsageError,
    alert_privacy,
    checked_settings,
    input_file,
    load_checked_policy,
    policy_path,
)

FIXTURE = Path(__file__).parent / "fixtures" / "demo.jsonl"
FEEDBACK = FIXTURE.with_suffix(".feedback.jsonl")  # the fixture's analysts' verdicts
READY = b"[^Worker]: Ready"  # Faust's line once the worker holds its partitions
# One worker on this machine: a group join takes about half this (the default 10 s: 5 s).
REBALANCE_TIMEOUT_S = "6"
QUIET_S = 15.0  # caught up but the watermark never reached the end: stop after this silence
SETTLE_S = 1.0  # after every window closed: the last alerts' way through the alerts topic
WARN_SETTLE_S = 20.0
HOLD_S = 0.5  # alerts are held this long to be shown in event-time order with their peers


def samples(port: int, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of one of the worker's metrics with its labels (none while it is not
    serving them)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
            text = resp.read().decode()
    except OSError:
        return []
    return [(sample.labels, sample.value) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def scrape(port: int, name: str) -> list[float]:
    return [value for _, value in samples(port, name)]


def _total(port: int, name: str) -> float | None:
    """A counter summed over its labels; None while the worker does not answer."""
    values = scrape(port, name)
    return sum(values) if values else None


def worker_error(log: Path) -> str:
    """The line of the worker's log that says why it stopped: its own `cdrwatch: ...` message,
    else the exception ending its first traceback (later ones are the shutdown's fallout),
    else its last line."""
    lines = [line.rstrip() for line in log.read_text(errors="replace").splitlines()
             if line.strip()]
    own = [line for line in lines if line.startswith("cdrwatch: ")]
    if own:
        return own[-1]
    start = next((n for n, line in enumerate(lines) if line.startswith("Traceback (")), None)
    if start is not None:
        cause = next((line for line in lines[start + 1:] if not line[0].isspace()), None)
        if cause:
            return cause
    return lines[-1] if lines else "(the worker wrote nothing)"


class DemoFailed(Exception):
    """The worker or the replay stopped: the message says why; the logs are kept."""


def _wait_ready(console: Console, worker: subprocess.Popen[bytes], log: Path,
                deadline: float) -> None:
    started = time.monotonic()
    console.print("starting a worker: Faust, then its consumer-group join (about 7 s)")
    with console.status("waiting for the worker to join its group"):
        while READY not in log.read_bytes():
            if worker.poll() is not None:
                raise DemoFailed(f"worker exited ({worker.returncode}): {worker_error(log)}")
            if time.monotonic() > deadline:
                raise DemoFailed("worker did not become ready before --timeout")
            time.sleep(0.2)
    console.print(f"worker ready in {time.monotonic() - started:.1f} s")


class _Feeder(threading.Thread):
    """The replay on its own thread; its report fills as it goes, `stop` ends it cleanly."""

    def __init__(self, fixtures: list[Path], bootstrap: str, topic: str, speed: float,
                 close_after_s: int, security: dict[str, Any]) -> None:
        super().__init__(daemon=True)
        self.args = (fixtures, bootstrap, topic, speed or None, close_after_s)
        self.security = security
        self.report = ReplayReport()
        self.stop = threading.Event()
        self.failed: Exception | None = None

    def run(self) -> None:
        fixtures, bootstrap, topic, speed, close_after = self.args
        try:
            replay(fixtures, bootstrap, topic, speed=speed, progress=False, end_of_data=True,
                   close_after_s=close_after, report=self.report, stop=self.stop,
                   security=self.security)
        except Exception as exc:  # the main loop says so and stops, not waits it out
            self.failed = exc


def _stop(feeder: _Feeder) -> None:
    """End the replay and let its producer close while the broker is still up: otherwise
    kafka-python's exit hook times out flushing into a stopped broker, with a traceback."""
    feeder.stop.set()
    feeder.join(timeout=10)


def _closed_every_window(port: int, partitions: int, report: ReplayReport) -> bool:
    marks = scrape(port, "cdrwatch_event_time_watermark_seconds")
    end = report.last_watermark
    return end is not None and len(marks) >= partitions and min(marks) >= end


def _follow(console: Console, consumer: KafkaConsumer, worker: subprocess.Popen[bytes],
            feeder: _Feeder, args: argparse.Namespace, partitions: int, log: Path,
            alerts: list[Alert], deadline: float, status: Status) -> None:
    """Print alerts as they come until every window has closed (or the worker fell silent);
    between them, on a terminal, the replay's progress."""
    quiet_since = time.monotonic()  # when the last alert arrived
    closed_at: float | None = None  # when the worker's event time passed the last watermark
    held: list[Alert] = []  # shown HOLD_S after the first of them came, sorted
    held_since = 0.0

    def show() -> None:
        for alert in in_event_order(held):
            console.print(alert_markup(alert, console.width), highlight=False)
        alerts.extend(held)
        held.clear()

    while time.monotonic() < deadline:
        status.update(f"{feeder.report.sent:,} messages replayed, {len(alerts) + len(held)} "
                      "alerts" + ("" if feeder.is_alive() else "; closing the last windows"))
        if worker.poll() is not None:
            raise DemoFailed(f"worker exited ({worker.returncode}): {worker_error(log)}")
        if feeder.failed:
            raise DemoFailed(f"replay failed: {type(feeder.failed).__name__}: {feeder.failed}")
        batch = [load_alert(rec.value) for records in consumer.poll(timeout_ms=100).values()
                 for rec in records]
        now = time.monotonic()
        if batch:
            if not held:
                held_since = now
            held += batch
            quiet_since = now
        if held and now - held_since >= HOLD_S:
            show()
        if feeder.is_alive():
            continue
        if closed_at is None and _closed_every_window(args.metrics_port, partitions,
                                                      feeder.report):
            closed_at = now
        consumed = _total(args.metrics_port, "cdrwatch_messages_consumed_total") or 0
        settled = closed_at is not None and now - max(closed_at, quiet_since) > SETTLE_S
        silent = consumed >= feeder.report.sent > 0 and now - quiet_since > QUIET_S
        if settled or silent:
            show()
            return
    raise DemoFailed(f"stopped by --timeout {args.timeout:g} s before every window closed")


def run_demo(args: argparse.Namespace) -> int:
    console = Console()
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job
    # of a non-interactive shell, as CI runs it): Python then installs no handler of its own.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fixtures = [input_file(f, "--fixture") for f in (args.fixture or [FIXTURE])]
    verdicts = _verdicts(args)
    policy_file, _ = policy_path(args.policy)
    policy = load_checked_policy(args.policy)
    alert_privacy(policy)  # the worker applies it: a missing key must stop the demo first
    console.print("[bold]cdrwatch demo[/]: starting the embedded Kafka-protocol broker")
    from streams.detect.families import build_families  # scipy: after the first line
    from streams.detect.keyed import horizon_s

    close_after = horizon_s(build_families(policy))
    deadline = time.monotonic() + args.timeout
    workdir = Path(tempfile.mkdtemp(prefix="cdrwatch-demo-"))
    log = workdir / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    feeder: _Feeder | None = None
    consumer: KafkaConsumer | None = None
    alerts: list[Alert] = []
    keep = ""  # why the logs stay, if they do
    started = time.monotonic()
    # The embedded broker is plaintext on loopback: the worker and every client of the demo
    # connect so, whatever CDRWATCH_SECURITY_PROTOCOL says for the production cluster.
    settings = checked_settings().model_copy(update={"security_protocol": "PLAINTEXT"})
    security = kafka_python_kwargs(settings)
    broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
    try:
        ensure_topics(broker.bootstrap, [settings.events_topic, settings.alerts_topic,
                                         settings.dlq_topic, settings.keyed_topic,
                                         settings.verdicts_topic, settings.warnings_topic,
                                         settings.feedback_topic],
                      settings.partitions, security)
        console.print(f"broker {broker.bootstrap} ready in {time.monotonic() - started:.1f} s; "
                      f"worker metrics on http://127.0.0.1:{args.metrics_port}/metrics")
        env = {"CDRWATCH_REBALANCE_TIMEOUT_S": REBALANCE_TIMEOUT_S, **os.environ,
               "CDRWATCH_BROKER": broker.url, "CDRWATCH_POLICY": str(policy_file),
               "CDRWATCH_METRICS_PORT": str(args.metrics_port), "CDRWATCH_IDLE_FLUSH_S": "8",
               "CDRWATCH_DATA_DIR": str(workdir / "data"), "CDRWATCH_APP_ID": "cdrwatch-demo",
               "CDRWATCH_SECURITY_PROTOCOL": settings.security_protocol}
        with log.open("wb") as out:
            worker = subprocess.Popen([sys.executable, "-m", "streams", "worker"], env=env,
                                      stdout=out, stderr=subprocess.STDOUT)
        _wait_ready(console, worker, log, deadline)
        consumer = KafkaConsumer(settings.alerts_topic, bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=500,
                                 **security)
        feeder = _Feeder(fixtures, broker.bootstrap, settings.events_topic, args.speed,
                         close_after, security)
        feeder.start()
        pace = f"at {args.speed:g}x event time" if args.speed else "as fast as it goes"
        console.print(f"replaying {', '.join(map(str, fixtures))} {pace}; alerts appear "
                      "below as they fire, in event-time order within each arrival")
        console.print(f"[bold]{header(console.width)}[/]", highlight=False)
        with console.status("replay starting") as status:
            _follow(console, consumer, worker, feeder, args, settings.partitions, log, alerts,
                    deadline, status)
        if verdicts:
            _give_verdicts(console, broker.bootstrap, settings.feedback_topic, security,
                           verdicts, alerts, args.metrics_port)
        _summary(console, alerts, feeder.report, args.metrics_port)
        console.print(_hotlist_line(broker.bootstrap, settings.hotlist_topic, security))
        return 0
    except DemoFailed as exc:
        keep = "the demo failed"
        Console(stderr=True).print(f"[red]cdrwatch demo: {exc}[/]", highlight=False)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        console.print("\ninterrupted; stopping")
        if feeder is not None:
            _stop(feeder)
            _summary(console, alerts, feeder.report, args.metrics_port, interrupted=True)
        return 130
    finally:
        if feeder is not None:
            _stop(feeder)
        if consumer is not None:
            consumer.close(timeout_ms=5000)  # never wait on a broker the demo is stopping
        stop_process(worker, timeout_s=15)
        broker.stop()
        if keep:
            console.print(f"logs kept in {workdir} ({keep}): worker.log, broker.log")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _verdicts(args: argparse.Namespace) -> list[AnalystFeedback]:
    """The analysts' verdicts to give: `--feedback`, else the bundled fixture's own (none for
    a fixture of your own); a bad file stops the demo before it starts anything."""
    path = args.feedback or (None if args.fixture else FEEDBACK)
    if path is None:
        return []
    try:
        return list(read_feedback(input_file(path, "--feedback")))
    except FeedbackFileError as exc:
        raise UsageError(str(exc)) from None


def _give_verdicts(console: Console, bootstrap: str, topic: str, security: dict[str, Any],
                   verdicts: list[AnalystFeedback], alerts: list[Alert], port: int) -> None:
    """The fraud desk's turn, once every window has closed (so the worker's retractions are
    those of `cdrwatch detect --feedback` on the same files): each verdict produced to the
    feedback topic, then a wait until the worker has read them all."""
    seen = {a.alert_id: a for a in alerts}
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **security)
    try:
        for verdict in verdicts:
            try:
                producer.send(topic, key=verdict.alert_id.encode(),
                              value=verdict.model_dump_json().encode()).get(10)
            except KafkaError as exc:
                raise DemoFailed(f"could not give the analysts' verdicts: {exc}") from None
            alert = seen.get(verdict.alert_id)
            what = f"{alert.detector} {alert.key}" if alert else "an incident not seen here"
            note = f": {verdict.note}" if verdict.note else ""
            console.print(f"analyst {verdict.analyst or '?'}: {verdict.verdict} on {what} "
                          f"({verdict.alert_id}){note}", highlight=False)
    finally:
        producer.close(timeout=5)
    judged = len({v.alert_id for v in verdicts})
    until = time.monotonic() + WARN_SETTLE_S
    while ((_total(port, "cdrwatch_feedback_incidents") or 0)
           + (_total(port, "cdrwatch_feedback_unmatched") or 0) < judged
           and time.monotonic() < until):
        time.sleep(0.2)


def _hotlist_line(bootstrap: str, topic: str, security: dict[str, Any]) -> str:
    """What the switch was given: the compacted hotlist topic read to its end (an entry, then
    its tombstone once the incident resolved or was called a false alarm)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=1500, **security)
    listed: set[bytes] = set()
    now: dict[bytes, bool] = {}
    try:
        for rec in consumer:
            now[rec.key] = rec.value is not None
            if rec.value is not None:
                listed.add(rec.key)
    finally:
        consumer.close()
    return (f"hotlist for the switch ({topic}): {len(listed)} numbers and ranges listed while "
            f"their incident was open, {sum(now.values())} still listed")


def _summary(console: Console, alerts: list[Alert], report: ReplayReport, port: int,
             interrupted: bool = False) -> None:
    console.print(summary_table(alerts))
    dead = _total(port, "cdrwatch_dead_letters_total")
    events = _total(port, "cdrwatch_events_consumed_total")
    so_far = " so far" if interrupted else ""
    console.print(f"replayed {report.sent:,} messages{so_far} ({len(report.invalid)} invalid); "
                  f"worker read {count(events)} CDRs, dead-lettered {count(dead)}; "
                  f"{len(alerts)} alerts")
    outcomes = _warning_outcomes(port, settle=not interrupted)
    marked = _total(port, "cdrwatch_call_verdicts_total")
    callbacks = sum(a.detector == "callback_risk" for a in alerts)
    console.print(f"acted on{so_far}: {count(marked)} calls marked under an incident "
                  f"(cdr-verdicts); {count(outcomes.get('issued'))} warnings to subscribers "
                  f"(cdr-warnings), {count(outcomes.get('daily_cap'))} held back by the "
                  f"daily cap, {count(outcomes.get('retracted', 0))} retracted after an "
                  f"analyst's false alarm; {callbacks} callback_risk alerts (a subscriber "
                  "calling a flagged range back, once per incident that flagged it)")


def _warning_outcomes(port: int, settle: bool) -> dict[str, float]:
    """Warnings by outcome, once they stop changing: the warnings hop runs after the alerts
    (its candidates go through their own topic), up to WARN_SETTLE_S."""
    def read() -> dict[str, float]:
        return {labels["outcome"]: value
                for labels, value in samples(port, "cdrwatch_warnings_total")}

    got, until = read(), time.monotonic() + WARN_SETTLE_S
    while settle and time.monotonic() < until:
        time.sleep(1.0)
        again = read()
        if again == got:
            break
        got = again
    return got
