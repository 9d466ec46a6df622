"""The spoofing field stories over the real broker: the worker alerts exactly as offline detect.

One partition, so the worker sees the calls in file order and the alerts match byte for byte.
"""

from __future__ import annotations

import orjson
import pytest

from streams.events import load_alert
from streams.offline import alert_line, detect_files
from tests.conftest import consume, replay_complete
from tests.fixtures.build import FIXTURES

pytestmark = pytest.mark.integration

# fixture -> detectors its alerts must include
STORIES = {
    "protected_from_abroad": {"spoof_protected"},
    "domestic_mobile_from_abroad": {"spoof_domestic_from_abroad", "spoof_unverified_roaming"},
}


@pytest.mark.parametrize(("name", "detectors"), list(STORIES.items()))
def test_worker_alerts_equal_offline_detect_on_a_spoofing_story(make_worker, name: str,
                                                                detectors: set[str]) -> None:
    fixture = FIXTURES[name]
    report = detect_files([fixture.events], fixture.load_policy())
    expected = sorted(alert_line(a) for a in report.result.alerts)
    assert detectors <= {orjson.loads(line)["detector"] for line in expected}
    worker = make_worker(partitions=1)
    sent = replay_complete([fixture.events], worker)
    assert sent.invalid == [] and sent.sent == report.result.events
    got = consume(worker.bootstrap, worker.names["alerts"], until=len(expected), timeout_s=120)
    assert sorted(alert_line(load_alert(v)) for v in got) == expected
