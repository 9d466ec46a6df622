"""Logging for the worker and CLI: plain or JSON lines, with phone numbers masked.

Subscriber numbers are personal data; logs travel further than the alert topic does, so
every record at INFO and above has its numbers masked before any handler writes it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

HANDLER_NAME = "cdrwatch"
STARS = "*" * 7  # fixed width, so the mask does not leak the number's length
# A number is a "+"/"00" international prefix or a bare run of 7-15 digits, standing alone
# (not inside a word, a hex id or a decimal), or one written in short groups ("+39 320 101
# 0086", "(06) 1234-5678"). Short runs (ports, counts) stay readable; long ones such as epoch
# seconds or offsets, and d-m-Y dates, are masked too: over-masking is the safe mistake.
_INTL_GROUPED = r"(?:\+|00)\(?\d{1,4}\)?(?:[ \-.]\(?\d{1,4}\)?){2,5}"
_NATIONAL_GROUPED = r"\(?0\d{1,4}\)?(?:[ \-./]\d{2,4}){1,4}"
_CONTIGUOUS = r"(?:\+|00)?\d{7,15}"
_NUMBER = re.compile(
    rf"(?<![\w+.])(?:{_INTL_GROUPED}|{_NATIONAL_GROUPED}|{_CONTIGUOUS})(?!\w|\.\d)"
)
_COUNTRY_CODES = frozenset(str(code) for code in COUNTRY_CODE_TO_REGION_CODE)
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


def _country_code(digits: str) -> str:
    # Calling codes are prefix-free, so the first 1-3 digit match is the only one.
    return next((digits[:n] for n in (1, 2, 3) if digits[:n] in _COUNTRY_CODES), "")


def _mask_match(match: re.Match[str]) -> str:
    text = match.group()
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return text  # a grouped run too short or too long to be a phone number
    prefix = "+" if text.startswith("+") else "00" if digits.startswith("00") else ""
    if prefix == "00":
        digits = digits[2:]
    code = _country_code(digits) if prefix else ""
    return f"{prefix}{code}{STARS}{digits[-2:]}"


def mask_number(text: str) -> str:
    """Mask every phone number in text, keeping the country code and the last two digits."""
    return _NUMBER.sub(_mask_match, text)


class MaskNumbers(logging.Filter):
    """Masks numbers in message, exception text and string extras of records >= min_level."""

    def __init__(self, min_level: int = logging.INFO) -> None:
        super().__init__()
        self.min_level = min_level

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < self.min_level:
            return True
        record.msg, record.args = mask_number(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_number(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key not in _RECORD_ATTRS and isinstance(value, str):
                setattr(record, key, mask_number(value))
        return True


class JsonLines(logging.Formatter):
    """One JSON object per record, for log shippers that index fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(
            (k, v) for k, v in record.__dict__.items() if k not in _RECORD_ATTRS
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str, ensure_ascii=False)


def build_handler(json_format: bool) -> logging.Handler:
    """A stderr handler with the masking filter, named so configure_logging can find it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        JsonLines() if json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(MaskNumbers())
    return handler


def _is_console(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)


def configure_logging(level: str, json_format: bool) -> None:
    """Own the root logger's console output; safe to repeat and to call after Faust's setup.

    Faust (mode) clears the root handlers and installs a coloured console one; that one and
    any earlier handler of ours are replaced, so each record is written once. Other handlers
    (files, test capture) are kept but get the masking filter too.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())  # raises ValueError on an unknown level name
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME or _is_console(handler):
            root.removeHandler(handler)
    root.addHandler(build_handler(json_format))
    for handler in root.handlers:
        if not any(isinstance(f, MaskNumbers) for f in handler.filters):
            handler.addFilter(MaskNumbers())
