"""Shared fixtures: the embedded broker (session), worker processes and Kafka helpers."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
from kafka import KafkaConsumer, KafkaProducer

from streams.broker import (
    WORKER_READY,
    EmbeddedBroker,
    ensure_topics,
    start_logged,
    stop_process,
    wait_for_line,
    worker_env,
)
from streams.detect.families import build_families
from streams.detect.keyed import horizon_s
from streams.events import watermark_message
from streams.policy import load_policy
from streams.replay import ReplayReport, replay
from streams.settings import DEFAULT_POLICY

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"


def load_dashboards() -> ModuleType:
    """deploy/grafana/dashboards.py, a script rather than a package module, loaded by path."""
    spec = importlib.util.spec_from_file_location(
        "cdrwatch_dashboards", ROOT / "deploy" / "grafana" / "dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


@dataclass
class Worker:
    """A `cdrwatch worker` subprocess with its own app id, topics and metrics port."""

    bootstrap: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    names: dict[str, str] = field(default_factory=dict)

    @property
    def metrics_port(self) -> int:
        return int(self.env["CDRWATCH_METRICS_PORT"])

    def start(self, timeout_s: float = 60.0) -> Worker:
        self.proc = start_logged([sys.executable, "-m", "streams", "worker"], self.env,
                                 self.log_path)
        wait_for_line(self.proc, self.log_path, WORKER_READY, timeout_s)
        return self

    def stop(self) -> None:
        stop_process(self.proc)


@pytest.fixture
def make_worker(broker: EmbeddedBroker, tmp_path: Path) -> Iterator:
    """Factory: workers on fresh topics (unique per test) of the session broker."""
    started: list[Worker] = []
    suffix = uuid.uuid4().hex[:8]

    def factory(policy: Path | None = None, partitions: int = 2, start: bool = True,
                app_id: str | None = None, **env: str) -> Worker:
        names = {
            "events": f"events-{suffix}", "alerts": f"alerts-{suffix}",
            "dlq": f"dlq-{suffix}", "keyed": f"keyed-{suffix}",
            "verdicts": f"verdicts-{suffix}", "warnings": f"warnings-{suffix}",
            "warn": f"warn-{suffix}", "feedback": f"feedback-{suffix}",
        }
        ensure_topics(broker.bootstrap, list(names.values()), partitions)
        full_env = worker_env(
            broker.url, app_id or f"cdrwatch-{suffix}", names, partitions,
            tmp_path / f"data-{len(started)}",
            CDRWATCH_IDLE_FLUSH_S="3", CDRWATCH_FLUSH_INTERVAL_S="1", **env,
        )
        if policy is not None:
            full_env["CDRWATCH_POLICY"] = str(policy)
        worker = Worker(broker.bootstrap, full_env, tmp_path / f"worker-{len(started)}.log",
                        names=names)
        started.append(worker)
        return worker.start() if start else worker

    yield factory
    for worker in started:
        worker.stop()


def replay_complete(paths: list[Path], worker: Worker, **kwargs: object) -> ReplayReport:
    """Replay files as a whole input: the last watermark closes every window, as the end of
    the input does for offline `detect`."""
    policy = load_policy(Path(worker.env.get("CDRWATCH_POLICY", DEFAULT_POLICY)))
    return replay(paths, worker.bootstrap, worker.names["events"], progress=False,
                  end_of_data=True, close_after_s=horizon_s(build_families(policy)),
                  **kwargs)  # type: ignore[arg-type]


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    for value in values:
        producer.send(topic, value=value)
    producer.flush()
    producer.close()


def declare_watermark(bootstrap: str, topic: str, ts: float) -> None:
    """What a mediation system sends when a file is complete: a watermark on every partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for partition in sorted(producer.partitions_for(topic)):
        producer.send(topic, value=watermark_message(ts), partition=partition)
    producer.flush()
    producer.close()


def consume(bootstrap: str, topic: str, until: int | None = None, idle_s: float = 5.0,
            timeout_s: float = 90.0) -> list[bytes]:
    """Every value on `topic` from the start: stop at `until` values, or when idle after some."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             consumer_timeout_ms=500)
    out: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    last = time.monotonic()
    try:
        while time.monotonic() < deadline:
            got = consumer.poll(timeout_ms=500)
            for records in got.values():
                out.extend(r.value for r in records)
                last = time.monotonic()
            if until is not None and len(out) >= until:
                break
            if until is None and out and time.monotonic() - last > idle_s:
                break
    finally:
        consumer.close()
    return out
