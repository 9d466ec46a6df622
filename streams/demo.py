"""`cdrwatch demo`: embedded broker, a worker, the bundled fixture replayed, alerts live."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path

from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console
from rich.table import Table

from streams.broker import EmbeddedBroker, ensure_topics, stop_process
from streams.detect.families import build_families
from streams.detect.keyed import horizon_s
from streams.events import Alert, load_alert
from streams.replay import ReplayReport, replay
from streams.settings import Settings
from streams.usage import input_file, load_checked_policy, policy_path

FIXTURE = Path(__file__).parent / "fixtures" / "demo.jsonl"
STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def scrape(port: int, name: str) -> float | None:
    """One sample of the worker's own metrics, so the demo knows when it has caught up."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


COLUMNS = "{:8}  {:26}  {:8}  {:8}  {:16}  {:>6}  {:>7}  {}"


def alert_row(alert: Alert) -> str:
    """One alert as one line of the live table, coloured by severity."""
    line = COLUMNS.format(
        alert.detected_at.strftime("%H:%M:%S"), alert.detector, alert.status, alert.severity,
        alert.key, f"{alert.observed:g}",
        "-" if alert.baseline is None else f"{alert.baseline:.3g}", alert.explanation,
    )
    return f"[{STYLE[alert.severity]}]{line}[/]"


def run_demo(args: argparse.Namespace) -> int:
    console = Console()
    fixtures = [input_file(f, "--fixture") for f in (args.fixture or [FIXTURE])]
    policy_file, _ = policy_path(args.policy)
    policy = load_checked_policy(args.policy)
    workdir = Path(tempfile.mkdtemp(prefix="cdrwatch-demo-"))
    broker = EmbeddedBroker(log_path=workdir / "broker.log").start()
    worker: subprocess.Popen[bytes] | None = None
    alerts: list[Alert] = []
    report = ReplayReport()
    try:
        env = {**os.environ, "CDRWATCH_BROKER": broker.url, "CDRWATCH_POLICY": str(policy_file),
               "CDRWATCH_METRICS_PORT": str(args.metrics_port), "CDRWATCH_IDLE_FLUSH_S": "8",
               "CDRWATCH_DATA_DIR": str(workdir / "data"), "CDRWATCH_APP_ID": "cdrwatch-demo"}
        settings = Settings()
        ensure_topics(broker.bootstrap, [settings.events_topic, settings.alerts_topic,
                                         settings.dlq_topic, settings.keyed_topic],
                      settings.partitions)
        console.print(f"[bold]cdrwatch demo[/]: broker {broker.bootstrap}, metrics on "
                      f"http://127.0.0.1:{args.metrics_port}/metrics, logs in {workdir}")
        with (workdir / "worker.log").open("wb") as log:
            worker = subprocess.Popen([sys.executable, "-m", "streams", "worker"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT)
        consumer = KafkaConsumer(settings.alerts_topic, bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=500)
        failed: list[Exception] = []

        close_after = horizon_s(build_families(policy))

        def _replay() -> None:
            nonlocal report
            try:
                report = replay(fixtures, broker.bootstrap, settings.events_topic,
                                speed=args.speed or None, progress=False, end_of_data=True,
                                close_after_s=close_after)
            except Exception as exc:  # the main loop says so and stops, not waits it out
                failed.append(exc)

        feeder = threading.Thread(target=_replay, daemon=True)
        feeder.start()
        console.print(f"replaying {', '.join(map(str, fixtures))} at "
                      f"{args.speed or 'max'}x event time; alerts appear below as they fire")
        header = COLUMNS.format("event", "detector", "status", "severity", "key", "obs", "base",
                                "why")
        console.print(f"[bold]{header}[/]", overflow="ellipsis", no_wrap=True)
        deadline = time.monotonic() + args.timeout
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                console.print(f"[red]worker exited ({worker.returncode}); see {workdir}/worker.log")
                return 1
            if failed:
                console.print(f"[red]replay failed: {type(failed[0]).__name__}: {failed[0]}")
                return 1
            batch = consumer.poll(timeout_ms=500)
            for records in batch.values():
                for rec in records:
                    alert = load_alert(rec.value)
                    alerts.append(alert)
                    console.print(alert_row(alert), overflow="ellipsis", no_wrap=True,
                                  markup=True, highlight=False)
                    quiet_since = time.monotonic()
            consumed = scrape(args.metrics_port, "cdrwatch_messages_consumed_total") or 0
            caught_up = not feeder.is_alive() and consumed >= report.sent > 0
            if caught_up and time.monotonic() - quiet_since > 15:
                break
        consumer.close()
        _summary(console, alerts, report, args.metrics_port)
        return 0
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut cleanup
        console.print("\ninterrupted; stopping")
        _summary(console, alerts, report, args.metrics_port)
        return 130
    finally:
        stop_process(worker, timeout_s=15)
        broker.stop()


def _summary(console: Console, alerts: list[Alert], report: ReplayReport, port: int) -> None:
    table = Table(title="summary: alerts by detector and status")
    for col in ("detector", "open", "update", "resolved", "keys"):
        table.add_column(col)
    by = Counter((a.detector, a.status) for a in alerts)
    for det in sorted({a.detector for a in alerts}):
        keys = ", ".join(sorted({a.key for a in alerts if a.detector == det}))[:60]
        table.add_row(det, *(str(by[(det, s)]) for s in ("open", "update", "resolved")), keys)
    console.print(table)
    dead = scrape(port, "cdrwatch_dead_letters_total")
    events = scrape(port, "cdrwatch_events_consumed_total")
    console.print(f"replayed {report.sent} messages ({len(report.invalid)} invalid); worker read "
                  f"{events if events is not None else '?'} CDRs, dead-lettered "
                  f"{dead if dead is not None else '?'}; {len(alerts)} alerts")
