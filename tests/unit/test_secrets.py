"""Secrets from the environment or from a mounted file, never printed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.settings import Settings
from tests.unit.clirun import cdrwatch, one_error_line


def test_the_password_comes_from_a_mounted_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cr3t\n")  # as `kubectl create secret` files usually end
    settings = Settings(sasl_password_file=secret)
    assert settings.sasl_password is not None
    assert settings.sasl_password.get_secret_value() == "s3cr3t"
    assert "s3cr3t" not in repr(settings) and "s3cr3t" not in str(settings)


def test_a_password_set_twice_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("one")
    with pytest.raises(ValidationError, match="not both") as info:
        Settings(sasl_password="two-s3cr3t", sasl_password_file=secret)
    assert "two-s3cr3t" not in str(info.value)  # a traceback quoting the input would show it


def test_an_unreadable_secret_file_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    proc = cdrwatch("worker", env={"CDRWATCH_SASL_PASSWORD_FILE": str(missing)})
    assert proc.returncode == 2
    assert str(missing) in one_error_line(proc)


def test_the_pseudonym_key_comes_from_a_file_too_and_is_never_printed(tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("a-long-pseudonym-key-0123\n")
    settings = Settings(pseudonym_key_file=secret)
    assert settings.pseudonym_key is not None
    assert settings.pseudonym_key.get_secret_value() == "a-long-pseudonym-key-0123"
    assert "pseudonym-key-0123" not in repr(settings)
    with pytest.raises(ValidationError, match="not both"):
        Settings(pseudonym_key="x" * 20, pseudonym_key_file=secret)


def test_a_short_pseudonym_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError, match="at least 16") as info:
        Settings(pseudonym_key="short-key")
    assert "short-key" not in str(info.value)


def test_sasl_without_credentials_is_one_line_and_exit_2_naming_the_variables() -> None:
    proc = cdrwatch("replay", "streams/fixtures/demo.jsonl",
                    env={"CDRWATCH_SECURITY_PROTOCOL": "sasl_ssl",
                         "CDRWATCH_SASL_USERNAME": "cdrwatch"})
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "CDRWATCH_SASL_USERNAME" in line and "CDRWATCH_SASL_PASSWORD" in line


def test_a_missing_ca_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "ca.crt"
    proc = cdrwatch("worker", env={"CDRWATCH_SECURITY_PROTOCOL": "SSL",
                                   "CDRWATCH_SSL_CAFILE": str(missing)})
    assert proc.returncode == 2
    assert f"CDRWATCH_SSL_CAFILE {missing} is not a readable file" in one_error_line(proc)


def test_no_help_text_shows_a_secret(tmp_path: Path) -> None:
    secret_env = {"CDRWATCH_SASL_PASSWORD": "pa55-in-env", "CDRWATCH_SASL_USERNAME": "u",
                  "CDRWATCH_PSEUDONYM_KEY": "pseudonym-key-in-env"}
    for command in ("worker", "replay", "detect", "demo"):
        proc = cdrwatch(command, "--help", env=secret_env)
        assert proc.returncode == 0
        assert "pa55-in-env" not in proc.stdout + proc.stderr
        assert "pseudonym-key-in-env" not in proc.stdout + proc.stderr
