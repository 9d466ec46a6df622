"""Operator policy files: defaults, presets, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from streams.cli import main
from streams.policy import PolicyError, load_policy, preset_policy, presets
from streams.settings import DEFAULT_POLICY


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return path


def test_bundled_default_policy_loads_with_its_documented_values() -> None:
    policy = load_policy(DEFAULT_POLICY)
    assert policy.home_country == "IT"
    assert policy.trunks["INTL-BICS-1"] == "international"
    assert policy.bursts.window_s == 300 and policy.bursts.min_count == 8


@pytest.mark.parametrize(("text", "message"), [
    ('home_country = "XX"', "key 'home_country': Value error, unknown ISO region 'XX'"),
    ("[bursts]\nwindow_s = 5", "key 'bursts.window_s'"),
    ('[trunks]\n"T1" = "satellite"', "key 'trunks.T1'"),
    ("[burst]\nwindow_s = 300", "key 'burst': Extra inputs are not permitted"),
    ("home_country = ", "is not valid TOML"),
    ('preset = "fr"', "key 'preset': unknown preset 'fr'"),
])
def test_bad_policy_is_refused_with_the_key_named(tmp_path: Path, text: str,
                                                   message: str) -> None:
    with pytest.raises(PolicyError, match=r"^policy file ") as err:
        load_policy(write(tmp_path, text))
    assert message in str(err.value)


def test_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policy(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["it", "uk", "us", "cn"])
def test_every_preset_loads_and_names_its_regulator(name: str) -> None:
    assert name in presets()
    path = DEFAULT_POLICY.parent / "presets" / f"{name}.toml"
    header = path.read_text().splitlines()[0]
    assert any(reg in header for reg in ("AGCOM", "Ofcom", "FCC", "MIIT"))


def test_operator_overrides_a_preset_key_by_key(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, (
        'preset = "cn"\n[protected_numbers]\nnumbers = ["4006816666"]\n'
        "[spoofing]\nflag_toll_free = false\n")))
    assert policy.home_country == "CN"
    assert policy.protected_numbers.numbers == ["4006816666"]       # replaced
    assert policy.protected_numbers.prefixes == ["+86400", "+86800"]  # kept from the preset
    assert policy.spoofing.flag_toll_free is False
    assert policy.spoofing.lookalike is True


def test_cli_refuses_a_bad_policy_before_starting(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "[bursts]\nmin_count = 0")
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", str(bad.parent / "x.jsonl"), "--policy", str(bad)])
    assert exit_info.value.code == 2
    assert "key 'bursts.min_count'" in capsys.readouterr().err


def test_detect_names_the_trunks_the_policy_cannot_place(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    record = {"record_id": "t", "start_time": "2026-11-20T10:00:00Z", "duration_s": 5,
              "answered": True, "calling_number": "+447911123456",
              "called_number": "3331234567", "ingress_trunk": "SIP-NEW-7"}
    events = tmp_path / "x.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps({**record, "record_id": f"t{i}", **extra})
                                  for i, extra in enumerate(
                                      [{}, {}, {"ingress_trunk": "NAT-TIM-1"}])))
    with pytest.raises(SystemExit) as exit_info:
        main(["detect", str(events)])
    assert exit_info.value.code == 0
    err = capsys.readouterr().err
    assert "2 calls on trunks missing from the policy's [trunks]" in err
    assert "SIP-NEW-7 (2)" in err and "NAT-TIM-1" not in err


def test_a_timezone_must_be_an_iana_zone(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"key .timezone.*Europe/Rome"):
        load_policy(write(tmp_path, 'timezone = "Europe/Rom"'))
    assert load_policy(write(tmp_path, 'timezone = "Europe/Rome"')).timezone == "Europe/Rome"


@pytest.mark.parametrize(("preset", "zone"), [("it", "Europe/Rome"), ("cn", "Asia/Shanghai"),
                                              ("uk", "Europe/London"),
                                              ("us", "America/New_York")])
def test_each_preset_sets_its_operators_timezone(preset: str, zone: str) -> None:
    assert preset_policy(preset, {}).timezone == zone
