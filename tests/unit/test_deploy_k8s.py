"""deploy/k8s validates against Kubernetes schemas, and its CRDs carry the repo's real rules."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest

from streams.policy import load_policy
from streams.settings import Settings
from tests.unit.deploy_files import (
    K8S,
    PROMETHEUS,
    ROOT,
    SETTINGS_ENV,
    k8s_manifests,
    load_yaml,
    tool,
)

CRD_SCHEMAS = ROOT / "tests" / "vendor" / "prometheus-operator"
CRDS = {"ServiceMonitor", "PrometheusRule"}
# The newest Kubernetes the installed kubernetes-validate knows, and an older still-served one.
VERSIONS = sorted({kubernetes_validate.utils.latest_version(), "1.30.0"})
MANIFESTS = k8s_manifests()
DOCS = [(name, doc) for name, docs in MANIFESTS.items() for doc in docs]


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in DOCS if d["kind"] == kind]
    return doc


DEPLOYMENT = by_kind("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(WORKER,) = POD["containers"]
ENV = {e["name"]: e for e in WORKER["env"]}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("k8s_generate", K8S / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kustomization_lists_exactly_the_manifests() -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(MANIFESTS)


def test_kubectl_kustomize_builds_the_base() -> None:
    kubectl = tool("kubectl", "in the machine image (Cloud SDK apt package), not Debian")
    done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\nkind: ") + done.stdout.startswith("kind: ") >= len(DOCS)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "doc"), [(n, d) for n, d in DOCS if d["kind"] not in CRDS],
                         ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_core_manifest_is_valid(name: str, doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("mutate", [
    lambda d: d["spec"]["template"]["spec"].update(contaners=[]),
    lambda d: d["spec"].update(replicas="two"),
    lambda d: d["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"].update(
        memory=["4Gi"]),
])
def test_kubernetes_validate_rejects_a_broken_deployment(mutate: Any) -> None:
    broken = copy.deepcopy(DEPLOYMENT)
    mutate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def _crd_validator(kind: str) -> jsonschema.protocols.Validator:
    schema = json.loads((CRD_SCHEMAS / f"{kind.lower()}.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_crd_manifest_matches_the_operator_schema(kind: str) -> None:
    errors = [e.message for e in _crd_validator(kind).iter_errors(by_kind(kind))]
    assert not errors


@pytest.mark.parametrize(("kind", "mutate"), [
    ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(intervall="5s")),
    ("ServiceMonitor", lambda d: d["spec"]["endpoints"][0].update(interval="5 seconds")),
    ("PrometheusRule", lambda d: d["spec"]["groups"][0]["rules"][0].update(experssion="up")),
])
def test_the_operator_schema_rejects_a_broken_crd(kind: str, mutate: Any) -> None:
    broken = copy.deepcopy(by_kind(kind))
    mutate(broken)
    assert list(_crd_validator(kind).iter_errors(broken))


@pytest.mark.parametrize("name", ["prometheusrule.yaml", "configmap-policy.yaml"])
def test_generated_manifest_is_fresh(name: str) -> None:
    expected = _generator().GENERATED[name]()
    assert (K8S / name).read_text(encoding="utf-8") == expected, (
        f"deploy/k8s/{name} is stale: run `python deploy/k8s/generate.py` and commit it")


def test_prometheusrule_carries_the_repo_rules() -> None:
    rules = load_yaml(PROMETHEUS / "rules.yml")
    assert by_kind("PrometheusRule")["spec"]["groups"] == rules["groups"]


def test_promtool_checks_and_unit_tests_the_prometheusrule(tmp_path: Path) -> None:
    """The CRD's own groups, as a rule file, pass promtool's checks and the rule unit tests."""
    promtool = tool("promtool", "apt-get install prometheus (.ci/run does)")
    spec = by_kind("PrometheusRule")["spec"]
    (tmp_path / "rules.yml").write_text(json.dumps(spec), encoding="utf-8")
    shutil.copy(PROMETHEUS / "rules_test.yml", tmp_path / "rules_test.yml")
    for args in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        done = subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_service_monitor_scrapes_every_worker_as_job_cdrwatch() -> None:
    service, monitor = by_kind("Service"), by_kind("ServiceMonitor")
    pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert _matches(DEPLOYMENT["spec"]["selector"]["matchLabels"], pod_labels)
    assert _matches(service["spec"]["selector"], pod_labels)
    assert _matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    # Without jobLabel the operator names the job after the Service: the rules need "cdrwatch".
    assert "jobLabel" not in monitor["spec"] and service["metadata"]["name"] == "cdrwatch"
    (endpoint,) = monitor["spec"]["endpoints"]
    (port,) = service["spec"]["ports"]
    assert endpoint["port"] == port["name"] and port["targetPort"] == "metrics"
    assert {p["name"]: p["containerPort"] for p in WORKER["ports"]} == {
        "metrics": int(ENV["CDRWATCH_METRICS_PORT"]["value"])}
    interval = load_yaml(PROMETHEUS / "prometheus.yml")["scrape_configs"][0]["scrape_interval"]
    assert endpoint["interval"] == interval and endpoint["path"] == "/metrics"


def test_pdb_covers_the_workers_and_lets_one_go() -> None:
    pdb = by_kind("PodDisruptionBudget")
    assert _matches(pdb["spec"]["selector"]["matchLabels"],
                    DEPLOYMENT["spec"]["template"]["metadata"]["labels"])
    assert pdb["spec"]["maxUnavailable"] == 1 < DEPLOYMENT["spec"]["replicas"]


def test_probes_hit_the_worker_health_endpoints() -> None:
    for probe, path in (("startupProbe", "/livez"), ("livenessProbe", "/livez"),
                        ("readinessProbe", "/readyz")):
        assert WORKER[probe]["httpGet"] == {"path": path, "port": "metrics"}


def _bytes(quantity: str) -> float:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "M": 10**6, "G": 10**9}
    number, unit = re.fullmatch(r"([\d.]+)([A-Za-z]*)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * units.get(unit, 1)


def test_memory_is_sized_from_the_readme_figures() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    peaks = [int(mb) for mb in re.findall(r"\| ([\d,]+) MB \|", readme.replace(",", ""))]
    assert peaks, "README's Performance table lost its peak RSS column"
    requests, limits = WORKER["resources"]["requests"], WORKER["resources"]["limits"]
    assert _bytes(limits["memory"]) >= _bytes(requests["memory"]) > max(peaks) * 10**6
    comment = (K8S / "deployment.yaml").read_text(encoding="utf-8")
    for figure in ("1,952,359 keys", "6,357 MB", "5,897 events/s", "10,983 events/s"):
        quoted = figure.split()[0]
        assert figure in comment and quoted in readme, f"sizing comment and README: {figure}"


def test_env_names_are_settings_and_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    assert set(ENV) <= SETTINGS_ENV, f"unknown settings: {sorted(set(ENV) - SETTINGS_ENV)}"
    for name, item in ENV.items():
        monkeypatch.setenv(name, item.get("value", "from-a-secret"))
    Settings()


def test_secrets_are_referenced_never_inlined() -> None:
    assert all(d["kind"] != "Secret" for _, d in DOCS)
    for name in ("CDRWATCH_SASL_USERNAME", "CDRWATCH_SASL_PASSWORD"):
        assert "value" not in ENV[name]
        assert ENV[name]["valueFrom"]["secretKeyRef"]["name"] == "cdrwatch-kafka"
    mounts = {m["name"]: m["mountPath"] for m in WORKER["volumeMounts"]}
    volumes = {v["name"]: v for v in POD["volumes"]}
    cafile = Path(ENV["CDRWATCH_SSL_CAFILE"]["value"])
    tls = volumes["kafka-tls"]["secret"]
    assert str(cafile.parent) == mounts["kafka-tls"]
    assert cafile.name in {item["path"] for item in tls["items"]}


def test_the_policy_comes_from_the_configmap_and_loads(tmp_path: Path) -> None:
    policy = Path(ENV["CDRWATCH_POLICY"]["value"])
    mounts = {m["name"]: m["mountPath"] for m in WORKER["volumeMounts"]}
    volume = {v["name"]: v for v in POD["volumes"]}["policy"]["configMap"]
    assert str(policy.parent) == mounts["policy"]
    (item,) = volume["items"]
    assert item["path"] == policy.name
    configmap = by_kind("ConfigMap")
    assert configmap["metadata"]["name"] == volume["name"]
    path = tmp_path / "policy.toml"
    path.write_text(configmap["data"][item["key"]], encoding="utf-8")
    load_policy(path)


def test_the_worker_runs_locked_down_as_the_image_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    user = re.findall(r"^USER (\d+)", dockerfile, re.MULTILINE)[-1]
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert str(POD["securityContext"]["runAsUser"]) == user
    context = WORKER["securityContext"]
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    writable = {m["mountPath"] for m in WORKER["volumeMounts"] if not m.get("readOnly")}
    assert ENV["CDRWATCH_DATA_DIR"]["value"] in writable and "/tmp" in writable
