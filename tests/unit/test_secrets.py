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
    with pytest.raises(ValidationError, match="not both"):
        Settings(sasl_password="two", sasl_password_file=secret)


def test_an_unreadable_secret_file_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    proc = cdrwatch("worker", env={"CDRWATCH_SASL_PASSWORD_FILE": str(missing)})
    assert proc.returncode == 2
    assert str(missing) in one_error_line(proc)
