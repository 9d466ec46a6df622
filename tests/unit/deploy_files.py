"""Shared by the test_deploy_*.py files: repo paths, YAML loading, tools that CI must have."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "compose.yaml"
K8S = DEPLOY / "k8s"
PROMETHEUS = DEPLOY / "prometheus"
ENV_NAME = re.compile(r"\bCDRWATCH_[A-Z0-9_]+")
# The environment names Settings reads: its env_prefix plus each field name.
SETTINGS_ENV = {f"CDRWATCH_{name.upper()}" for name in Settings.model_fields}


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_all_yaml(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_manifests() -> dict[str, list[dict[str, Any]]]:
    """File name -> its documents, for every manifest kustomization.yaml does not describe."""
    return {p.name: load_all_yaml(p) for p in sorted(K8S.glob("*.yaml"))
            if p.name != "kustomization.yaml"}


def tool(name: str, hint: str) -> str:
    """Path of a command (the venv's bin first); a missing one fails in CI and skips elsewhere."""
    path = shutil.which(name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} not found but CI is set: {hint}")
    pytest.skip(f"{name} not installed ({hint}); with CI set this fails")
