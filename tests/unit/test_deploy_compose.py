"""deploy/compose validates offline: compose-spec schema, settings, mounts, topics, scraping."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from streams.app import state_table
from streams.settings import Settings
from tests.conftest import load_dashboards
from tests.unit.deploy_files import (
    COMPOSE,
    COMPOSE_DIR,
    PROMETHEUS,
    ROOT,
    SETTINGS_ENV,
    load_yaml,
    tool,
)

VENDOR = ROOT / "tests" / "vendor" / "compose-spec"
SCHEMA_SHA256 = "d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
STACK = load_yaml(COMPOSE)
SERVICES: dict[str, Any] = STACK["services"]
CDRWATCH = ("worker", "replayer")


def _validator() -> jsonschema.protocols.Validator:
    raw = (VENDOR / "compose-spec.json").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SCHEMA_SHA256, "vendored schema changed: SOURCE.md"
    schema = json.loads(raw)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


VALIDATOR = _validator()


def _errors(doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in VALIDATOR.iter_errors(doc)]


def test_compose_file_matches_the_compose_spec() -> None:
    assert not _errors(STACK)


@pytest.mark.parametrize("mutate", [
    lambda s: s["services"]["worker"].update(enviroment={"CDRWATCH_BROKER": "x"}),
    lambda s: s["services"]["worker"]["depends_on"]["topic-init"].update(condition="done"),
    lambda s: s["services"]["kafka"].update(ports="19092"),
])
def test_the_schema_rejects_a_broken_file(mutate: Any) -> None:
    broken = copy.deepcopy(STACK)
    mutate(broken)
    assert _errors(broken)


def _env(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    assert isinstance(env, dict), f"{service}: environment as a mapping"
    return {k: str(v) for k, v in env.items()}


@pytest.mark.parametrize("service", CDRWATCH)
def test_cdrwatch_env_names_are_settings_and_parse(
    service: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = _env(service)
    names = {n for n in env if n.startswith("CDRWATCH_")}
    assert names and names <= SETTINGS_ENV, f"unknown settings: {sorted(names - SETTINGS_ENV)}"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Settings()  # a value Settings cannot read ("four" partitions) fails here


def _binds(service: str) -> list[tuple[Path, str]]:
    out = []
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out.append(((COMPOSE_DIR / source).resolve(), target))
    return out


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_mounted_files_exist_in_the_repo(service: str) -> None:
    for source, target in _binds(service):
        assert source.exists(), f"{service} mounts {source} at {target}: not in the repo"
        assert ROOT in source.parents, f"{service} mounts {source} from outside the repo"


def test_cdrwatch_services_build_this_repo_and_mount_a_policy() -> None:
    for service in CDRWATCH:
        build = SERVICES[service]["build"]
        context = (COMPOSE_DIR / build["context"]).resolve()
        assert (context / build["dockerfile"]).is_file()
        targets = dict((t, s) for s, t in _binds(service))
        assert _env(service)["CDRWATCH_POLICY"] in targets, f"{service}: policy not mounted"
    fixture = {s.name for s, _ in _binds("replayer")}
    assert "demo.jsonl" in fixture
    assert SERVICES["replayer"]["entrypoint"] == ["cdrwatch", "replay"]
    assert "/data/demo.jsonl" in SERVICES["replayer"]["command"]


def test_two_workers_in_one_group() -> None:
    worker = SERVICES["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert "container_name" not in worker, "a fixed name forbids a second replica"
    assert not worker.get("ports"), "fixed host ports forbid a second replica"
    assert _env("worker")["CDRWATCH_APP_ID"] == _env("replayer")["CDRWATCH_APP_ID"]


def test_kafka_is_one_kraft_node_that_creates_no_topic_by_itself() -> None:
    env = SERVICES["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert str(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]).lower() == "false"
    cluster_id = env["CLUSTER_ID"].split()[0]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "CLUSTER_ID: a base64 UUID"
    assert "zookeeper" not in json.dumps(STACK).lower()


def test_topic_init_creates_every_topic_the_worker_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CDRWATCH_")]:
        monkeypatch.delenv(name)  # only the compose file's values count here
    for name, value in _env("worker").items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    script = SERVICES["topic-init"]["command"][0]
    created = dict(re.findall(r"^\s*create (\S+) (delete|compact)\s*$", script, re.MULTILINE))
    changelog = f"{settings.app_id}-{state_table.name}-changelog"
    expected = {settings.events_topic: "delete", settings.keyed_topic: "delete",
                settings.alerts_topic: "delete", settings.dlq_topic: "delete",
                changelog: "compact"}
    assert created == expected
    partitions = re.findall(r"--partitions (\d+)", script)
    assert partitions == [str(settings.partitions)], "topic-init and CDRWATCH_PARTITIONS differ"
    for service in CDRWATCH:
        depends = SERVICES[service]["depends_on"]["topic-init"]
        assert depends["condition"] == "service_completed_successfully"


def test_prometheus_scrapes_job_cdrwatch_at_the_rules_interval() -> None:
    ours, repo = load_yaml(COMPOSE_DIR / "prometheus.yml"), load_yaml(PROMETHEUS / "prometheus.yml")
    assert ours["global"] == repo["global"]
    (job,), (repo_job,) = ours["scrape_configs"], repo["scrape_configs"]
    assert job["job_name"] == repo_job["job_name"] == "cdrwatch"  # rules match job="cdrwatch"
    assert job["scrape_interval"] == repo_job["scrape_interval"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["port"] == Settings.model_fields["metrics_port"].default
    targets = {t for s, t in _binds("prometheus")}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"} <= targets
    rules = {s for s, t in _binds("prometheus") if t == "/etc/prometheus/rules.yml"}
    assert rules == {(PROMETHEUS / "rules.yml").resolve()}, "the repo's rules, not a copy"
    assert ours["rule_files"] == ["rules.yml"]


def test_promtool_accepts_the_compose_prometheus_config(tmp_path: Path) -> None:
    promtool = tool("promtool", "apt-get install prometheus (.ci/run does)")
    shutil.copy(COMPOSE_DIR / "prometheus.yml", tmp_path / "prometheus.yml")
    shutil.copy(PROMETHEUS / "rules.yml", tmp_path / "rules.yml")
    done = subprocess.run([promtool, "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_grafana_gets_the_repo_dashboards_and_the_uid_they_use() -> None:
    boards = load_dashboards()
    binds = {t: s for s, t in _binds("grafana")}
    assert binds["/var/lib/grafana/dashboards/cdrwatch"] == (ROOT / "deploy/grafana/dashboards")
    provider = load_yaml(binds["/etc/grafana/provisioning/dashboards/cdrwatch.yml"])
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/cdrwatch"
    (source,) = load_yaml(binds["/etc/grafana/provisioning/datasources/cdrwatch.yml"])[
        "datasources"]
    assert source["uid"] == boards.DATASOURCE.uid
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in SERVICES


def test_published_ports_bind_to_loopback() -> None:
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on all interfaces"
