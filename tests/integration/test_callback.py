"""The callback guard over the real broker: the worker's callback_risk alerts are offline
detect's, byte for byte, with the inbound and outbound calls read from two partitions."""

from __future__ import annotations

import orjson
import pytest

from streams.events import load_alert
from streams.offline import alert_line, detect_files
from tests.conftest import consume, replay_complete
from tests.fixtures.build import FIXTURES

pytestmark = pytest.mark.integration


def test_worker_callback_alerts_equal_offline_detect(make_worker) -> None:  # type: ignore[no-untyped-def]
    fixture = FIXTURES["wangiri_callbacks"]
    report = detect_files([fixture.events], fixture.load_policy())
    expected = [alert_line(a) for a in report.result.alerts]
    callbacks = sorted(line for line in expected
                       if orjson.loads(line)["detector"] == "callback_risk")
    assert len(callbacks) > 40
    worker = make_worker(partitions=2)
    sent = replay_complete([fixture.events], worker)
    assert sent.invalid == [] and sent.sent == report.result.events
    got = [alert_line(load_alert(v)) for v in consume(
        worker.bootstrap, worker.names["alerts"], until=len(expected), timeout_s=120)]
    assert sorted(line for line in got
                  if orjson.loads(line)["detector"] == "callback_risk") == callbacks

    def ids(lines: list[bytes]) -> list[tuple[str, str]]:
        return sorted((a["alert_id"], a["status"]) for a in map(orjson.loads, lines))

    assert ids(got) == ids(expected)  # and every other incident as offline gives it
