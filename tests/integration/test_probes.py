"""The worker's probes and its stop: /readyz says "not ready" until the worker is in its group
with partitions assigned; SIGTERM stops it in seconds."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
import urllib.error
import urllib.request

import pytest
from kafka import KafkaAdminClient

from tests.integration.test_faults import LINES, committed, metric, produce, wait_until

pytestmark = pytest.mark.integration
STOP_S = 5.0  # "within a few seconds": Kubernetes allows the pod 60 s before it kills it


def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as refused:
        return refused.code


def test_ready_only_once_the_group_has_assigned_partitions(make_worker) -> None:
    worker = make_worker(start=False)
    seen: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):  # the server is not up yet
                seen.append(status(worker.metrics_port, "/readyz"))
            time.sleep(0.2)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        worker.start()  # returns once the worker logged that it is ready
        wait_until(lambda: bool(seen) and seen[-1] == 200, timeout_s=30)
    finally:
        stop.set()
        poller.join()
    assert 503 in seen and seen.index(503) < seen.index(200)  # joining takes seconds
    assert status(worker.metrics_port, "/livez") == 200
    assert status(worker.metrics_port, "/metrics") == 200


def test_sigterm_mid_stream_stops_within_seconds_without_a_traceback(make_worker) -> None:
    """A rolling restart: the worker drains its batch, commits, leaves the group, exits 0."""
    worker = make_worker(partitions=2)
    produce(worker.bootstrap, worker.names["events"], LINES)
    wait_until(lambda: metric(worker, "cdrwatch_events_valid_total") >= 500)
    started = time.monotonic()
    worker.proc.send_signal(signal.SIGTERM)
    code = worker.proc.wait(timeout=30)
    took = time.monotonic() - started
    log = worker.log_path.read_text(errors="replace")
    assert code == 0 and took < STOP_S, f"exit {code} after {took:.1f} s"
    assert "Traceback" not in log
    admin = KafkaAdminClient(bootstrap_servers=worker.bootstrap)
    try:  # what it read before the signal was committed on the way out
        assert committed(admin, worker, "events") >= 500
    finally:
        admin.close()
