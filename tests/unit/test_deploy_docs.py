"""docs/operator-guide.md stays true: every alert rule has a runbook, examples load, figures
are the README's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from streams.events import Alert
from streams.policy import load_policy
from tests.unit.deploy_files import PROMETHEUS, ROOT, load_yaml

GUIDE = ROOT / "docs" / "operator-guide.md"
TEXT = GUIDE.read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
RULES = [r["alert"] for g in load_yaml(PROMETHEUS / "rules.yml")["groups"] for r in g["rules"]
         if "alert" in r]  # a recording rule pages no one: deploy/README.md explains it


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", TEXT, re.DOTALL)


@pytest.mark.parametrize("rule", RULES)
def test_every_alert_rule_has_a_runbook(rule: str) -> None:
    assert f"\n### {rule}\n" in TEXT, f"docs/operator-guide.md has no runbook for {rule}"


def test_the_guide_is_linked_from_both_readmes() -> None:
    assert "(docs/operator-guide.md)" in README
    assert "(../docs/operator-guide.md)" in (ROOT / "deploy" / "README.md").read_text("utf-8")


@pytest.mark.parametrize("index", range(2))
def test_example_policies_load(index: str, tmp_path: Path) -> None:
    examples = blocks("toml")
    assert len(examples) == 2, "an Italian and a Chinese policy"
    path = tmp_path / "policy.toml"
    path.write_text(examples[index], encoding="utf-8")
    policy = load_policy(path)
    assert policy.home_country == ("IT", "CN")[index]
    assert policy.trunks and policy.protected_numbers.numbers


def test_the_alert_example_is_a_valid_alert() -> None:
    (example,) = blocks("json")
    Alert.model_validate(json.loads(example))


def test_sizing_figures_are_quoted_from_the_readme() -> None:
    sizing = TEXT.split("## 3. Sizing", 1)[1].split("\n## ", 1)[0]
    figures = re.findall(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+(?:\.\d+)? (?:MB|bytes)\b", sizing)
    assert len(figures) >= 8
    missing = sorted({f for f in figures if f not in README} - {"8,000"})  # the worked example
    assert not missing, f"figures in the guide's Sizing that README.md does not have: {missing}"


def test_files_the_guide_names_exist() -> None:
    named = set(re.findall(r"`((?:deploy|docs|streams|tests)/[\w./-]+|Dockerfile)`", TEXT))
    assert named
    missing = sorted(n for n in named if not (ROOT / n).exists())
    assert not missing, f"docs/operator-guide.md names missing files: {missing}"
