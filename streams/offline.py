"""`cdrwatch detect`: the worker's detectors over files, no Kafka, alerts to JSONL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from streams.detect.baseline import Baseline, build
from streams.detect.engine import OfflineResult, run_offline
from streams.events import Alert, CallEvent
from streams.policy import Policy
from streams.replay import read_messages


@dataclass
class DetectReport:
    result: OfflineResult
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def events_per_s(self) -> float:
        return self.result.events / self.seconds if self.seconds else 0.0


def _events(paths: list[Path], rejected: list[tuple[str, int, str]]) -> Iterator[CallEvent]:
    for line in read_messages(paths):
        rejected.extend((line.source, line.line_no, b.reason) for b in line.bad)
        yield from line.events


def detect_files(paths: list[Path], policy: Policy,
                 seeds: dict[tuple[str, str], bytes] | None = None) -> DetectReport:
    rejected: list[tuple[str, int, str]] = []
    started = time.perf_counter()
    result = run_offline(_events(paths, rejected), policy, seeds=seeds)
    return DetectReport(result, rejected, time.perf_counter() - started)


def learn_baseline(report: DetectReport, policy: Policy) -> Baseline:
    """What every key learned over a finished offline run (all its windows closed)."""
    states = report.result.states
    assert states is not None
    return build(states.states(), states.families, policy.home_country, states.last_ts())


def alert_line(alert: Alert) -> bytes:
    """An alert as the worker publishes it, minus the wall-clock `emitted_at`."""
    return orjson.dumps(alert.model_dump(mode="json", exclude={"emitted_at"}))


def write_alerts(alerts: list[Alert], out: Path,
                 privacy: Callable[[Alert], Alert] = lambda alert: alert) -> None:
    """`privacy`: what each alert goes through on its way out (usage.alert_privacy)."""
    with out.open("wb") as fh:
        for alert in alerts:
            fh.write(alert_line(privacy(alert)) + b"\n")
