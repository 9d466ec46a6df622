"""TLS end to end on the embedded broker: the worker, `cdrwatch replay` and a kafka-python
consumer built by streams/security.py all speak TLS to it, verified against a throw-away CA;
without the CA, `cdrwatch replay` stops with one line. Tansu with `--authentication` refuses
every SASL client we can build (docs/security.md): that failure is checked to stay one line
that never shows the password."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer

from streams.broker import (
    WORKER_READY,
    EmbeddedBroker,
    ensure_topics,
    free_port,
    start_logged,
    stop_process,
    tansu_binary,
    wait_for_line,
    worker_env,
)
from streams.offline import detect_files
from streams.policy import load_policy
from streams.pseudonym import pseudonym, pseudonymise
from streams.security import kafka_python_kwargs
from streams.settings import DEFAULT_POLICY, Settings
from tests.certs import Certs, make_certs
from tests.conftest import FIXTURES
from tests.unit.clirun import cdrwatch, one_error_line

pytestmark = pytest.mark.integration

KEY = "integration-pseudonym-key-0001"
CLONED = "+393471112233"  # the cloned mobile of tests/fixtures/cloned_mobile.jsonl


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedBroker, Certs]]:
    folder = tmp_path_factory.mktemp("tls")
    certs = make_certs(folder / "certs")
    with EmbeddedBroker(log_path=folder / "tansu.log", tls=(certs.cert, certs.key)) as broker:
        yield broker, certs


def _ssl_env(broker: EmbeddedBroker, certs: Certs) -> dict[str, str]:
    return {"CDRWATCH_BROKER": broker.url, "CDRWATCH_SECURITY_PROTOCOL": "SSL",
            "CDRWATCH_SSL_CAFILE": str(certs.ca)}


def test_the_broker_port_speaks_only_tls(tls: tuple[EmbeddedBroker, Certs]) -> None:
    """Else the test below could pass with clients that never used TLS."""
    broker, _ = tls
    with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as sock:
        # an ApiVersions request header in plaintext: a TLS server reads garbage and hangs up
        sock.sendall(b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\xff\xff")
        try:
            answer = sock.recv(1024)
        except ConnectionResetError:
            answer = b""
        assert answer == b""


def test_worker_replay_and_consumer_over_tls_with_pseudonymised_alerts(
        tls: tuple[EmbeddedBroker, Certs], tmp_path: Path) -> None:
    broker, certs = tls
    suffix = uuid.uuid4().hex[:8]
    names = {role: f"{role}-tls-{suffix}" for role in ("events", "alerts", "dlq", "keyed")}
    policy = tmp_path / "private.toml"
    policy.write_text(DEFAULT_POLICY.read_text().replace("pseudonymise = false",
                                                         "pseudonymise = true"))
    settings = Settings(security_protocol="SSL", ssl_cafile=certs.ca)
    security = kafka_python_kwargs(settings)
    ensure_topics(broker.bootstrap, list(names.values()), 2, security)
    env = worker_env(broker.url, f"cdrwatch-tls-{suffix}", names, 2, tmp_path / "data",
                     CDRWATCH_IDLE_FLUSH_S="3", CDRWATCH_FLUSH_INTERVAL_S="1",
                     CDRWATCH_POLICY=str(policy), CDRWATCH_PSEUDONYM_KEY=KEY,
                     **_ssl_env(broker, certs))
    fixture = FIXTURES / "cloned_mobile.jsonl"
    offline = detect_files([fixture], load_policy(DEFAULT_POLICY)).result.alerts
    keep = load_policy(DEFAULT_POLICY).protected_e164
    expected = {(a.alert_id, a.key, a.status)
                for a in (pseudonymise(a, KEY.encode(), keep) for a in offline)}
    assert len(expected) == 4  # two stories of spoof_velocity, each open and resolved
    log = tmp_path / "worker.log"
    worker = start_logged([sys.executable, "-m", "streams", "worker"], env, log)
    consumer: KafkaConsumer | None = None
    try:
        wait_for_line(worker, log, WORKER_READY, 60)
        replayed = cdrwatch("replay", "--end-of-data", str(fixture),
                            env={**_ssl_env(broker, certs), "CDRWATCH_POLICY": str(policy),
                                 "CDRWATCH_EVENTS_TOPIC": names["events"]})
        assert replayed.returncode == 0, replayed.stderr
        assert "replayed 19 messages" in replayed.stdout
        consumer = KafkaConsumer(names["alerts"], bootstrap_servers=broker.bootstrap,
                                 auto_offset_reset="earliest", consumer_timeout_ms=30_000,
                                 **security)
        alerts = []
        for record in consumer:  # until every alert detect gives, or 30 s of silence
            alerts.append(orjson.loads(record.value))
            if len(alerts) == len(expected):
                break
    finally:
        if consumer is not None:
            consumer.close()
        stop_process(worker)
    # the worker's way out pseudonymised them as detect's alerts through pseudonymise()
    assert {(a["alert_id"], a["key"], a["status"]) for a in alerts} == expected
    assert {a["key"] for a in alerts} >= {pseudonym(CLONED, KEY.encode())}
    assert CLONED not in orjson.dumps(alerts).decode()
    assert KEY not in log.read_text(errors="replace")


def test_replay_without_the_ca_stops_with_one_line(tls: tuple[EmbeddedBroker, Certs]) -> None:
    broker, _ = tls
    proc = cdrwatch("replay", str(FIXTURES / "cloned_mobile.jsonl"),
                    env={"CDRWATCH_BROKER": broker.url, "CDRWATCH_SECURITY_PROTOCOL": "SSL"},
                    timeout=60)
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "certificate" in line and "CDRWATCH_SSL_CAFILE" in line, line


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """Tansu with `--authentication`: every client must authenticate with SASL."""
    port = free_port()
    log = tmp_path_factory.mktemp("sasl") / "tansu.log"
    listener = f"tcp://127.0.0.1:{port}"
    with log.open("ab") as out:
        proc = subprocess.Popen([tansu_binary(), "broker", "--listener-url", listener,
                                 "--advertised-listener-url", listener, "--storage-engine",
                                 "memory://tansu/", "--authentication"],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_line(proc, log, "ready in", 30)
        yield port
    finally:
        stop_process(proc, timeout_s=2)


def test_a_refused_sasl_login_is_one_line_without_the_password(sasl_broker: int) -> None:
    proc = cdrwatch("replay", str(FIXTURES / "cloned_mobile.jsonl"), timeout=90,
                    env={"CDRWATCH_BROKER": f"kafka://127.0.0.1:{sasl_broker}",
                         "CDRWATCH_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                         "CDRWATCH_SASL_MECHANISM": "SCRAM-SHA-256",
                         "CDRWATCH_SASL_USERNAME": "cdrwatch",
                         "CDRWATCH_SASL_PASSWORD": "never-Printed-9"})
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "SASL SCRAM-SHA-256 as 'cdrwatch'" in line, line
    assert "never-Printed-9" not in proc.stdout + proc.stderr
