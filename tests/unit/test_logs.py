"""Log masking and formatting: no subscriber number reaches an INFO log line."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest

from streams.logs import HANDLER_NAME, MaskNumbers, configure_logging, mask_number


@pytest.fixture(autouse=True)
def restore_root() -> Iterator[logging.Logger]:
    """configure_logging edits the root logger; put it back for the next test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+393201010086", "+39*******86"),
        ("00393201010086", "0039*******86"),
        ("+12025550123", "+1*******23"),
        ("+8613800138000", "+86*******00"),
        ("+39 320 101 0086", "+39*******86"),
        ("+1 (202) 555-0123", "+1*******23"),
        ("call from 3201010086 to 0612345678.", "call from *******86 to *******78."),
        ("caller=393201010086, callee=(06) 1234-5678", "caller=*******86, callee=*******78"),
        ('{"caller": "+393201010086"}', '{"caller": "+39*******86"}'),
    ],
)
def test_mask_number_masks(text: str, expected: str) -> None:
    assert mask_number(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "port 9108 partition 3 batch 500 in 0.05 s",
        "version 0.1.0 at 2024-05-01T10:00:00Z",
        "ratio 0.0012345678 id 3f2a12345678901 total 1234567.89",
        "+39*******86",
    ],
)
def test_mask_number_leaves_other_text(text: str) -> None:
    assert mask_number(text) == text


def test_mask_is_idempotent() -> None:
    once = mask_number("from +393201010086 to 0612345678")
    assert mask_number(once) == once
    assert "3201010086" not in once and "12345678" not in once


def _record(level: int, msg: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("cdrwatch.test", level, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_filter_masks_args_and_extras_at_info() -> None:
    record = _record(logging.WARNING, "spoof from %s", "+393201010086", callee="0612345678")
    assert MaskNumbers().filter(record)
    assert record.getMessage() == "spoof from +39*******86"
    assert record.callee == "*******78"


def test_filter_leaves_debug_unmasked() -> None:
    record = _record(logging.DEBUG, "raw caller %s", "+393201010086")
    MaskNumbers().filter(record)
    assert record.getMessage() == "raw caller +393201010086"


def test_json_lines_parse_and_mask(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", json_format=True)
    log = logging.getLogger("cdrwatch.agent")
    log.info("alert for %s", "+393201010086", extra={"detector": "spoof_protected"})
    log.debug("dropped: not at DEBUG level")
    try:
        raise ValueError("bad caller 00393201010086")
    except ValueError:
        log.exception("rejected")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "alert for +39*******86"
    assert (first["level"], first["logger"]) == ("INFO", "cdrwatch.agent")
    assert first["detector"] == "spoof_protected"
    assert datetime.fromisoformat(first["timestamp"]).utcoffset() is not None
    assert "0039*******86" in second["exception"] and "3201010086" not in second["exception"]


def test_plain_format_masks(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json_format=False)
    logging.getLogger("cdrwatch").error("callee %s", "3201010086")
    err = capsys.readouterr().err
    assert "ERROR cdrwatch: callee *******86" in err and "3201010086" not in err


def test_debug_level_keeps_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", json_format=False)
    logging.getLogger("cdrwatch").debug("raw %s", "+393201010086")
    assert "raw +393201010086" in capsys.readouterr().err


def test_configure_is_idempotent_and_replaces_faust_console(restore_root: logging.Logger) -> None:
    faust_console = logging.StreamHandler(sys.stdout)  # what mode's setup_logging installs
    kept = logging.StreamHandler(io.StringIO())  # e.g. a file handler: must survive
    restore_root.addHandler(faust_console)
    restore_root.addHandler(kept)
    configure_logging("warning", json_format=False)
    configure_logging("warning", json_format=True)
    ours = [h for h in restore_root.handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    assert faust_console not in restore_root.handlers
    assert kept in restore_root.handlers
    assert sum(isinstance(f, MaskNumbers) for f in kept.filters) == 1
    assert restore_root.level == logging.WARNING
    logging.getLogger("x").warning("to %s", "+393201010086")
    assert kept.stream.getvalue() == "to +39*******86\n"


def test_unknown_level_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown level"):
        configure_logging("loud", json_format=False)
