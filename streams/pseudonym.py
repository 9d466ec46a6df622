"""Alerts without phone numbers: `[privacy] pseudonymise = true` replaces each number an alert
carries by a keyed pseudonym, where alerts leave the process (the worker's publish, `detect
--out`), so that the alerts topic can go to a SOC or a ticket system outside the operator's
domain and analysts can still group by number.

A pseudonym is `pn:` and the first 16 hex digits of HMAC-SHA256(key, the number's E.164 form):
the same in every process and after every restart, and without the key nobody can test which
number it stands for (a bare hash of a number is reversed by trying the whole plan).
What is a number: the key of a detector keyed by caller ID or subscriber, and in the
explanation every run of 7 or more digits (`+`, `00`, spaces, dashes and dots allowed). Kept
as they are: the ranges and countries of the burst detectors (`+6391755`, `+216`: a block of
numbers, not a person), `trunk:NAME`, the operator's own protected numbers (the policy lists
them; an alert about a spoofed hotline must say which), and `record_ids` (identifiers of the
mediation system, looked up in the operator's own CDR store).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from streams.events import Alert

if TYPE_CHECKING:
    from pydantic import SecretStr

    from streams.policy import Policy

TAG = "pn:"
# Detectors whose key is a block of numbers (range or country), not one number.
PREFIX_KEYED = frozenset({"burst_range", "burst_country", "wangiri_range", "burst_ramp"})
MIN_DIGITS = 7  # shorter runs are counts, thresholds, minutes; a range is the alert's key
# A digit run with optional `+`/`00` and single separators, not inside a word or a decimal,
# and not the head of a longer run (a date such as 2026-11-20 is followed by "T"), nor the
# seconds of a time (10:36:23.738000).
_SEP = r"[ \-.()]"
_NUMBER = re.compile(rf"(?<![\w.+\-])(?<!\d:)\+?\d(?:{_SEP}{{0,2}}\d)+(?!\w|{_SEP}{{1,2}}\d)")


def pseudonym(number: str, key: bytes) -> str:
    """`pn:` + 16 hex of HMAC-SHA256 over `number` as given (callers pass the E.164 form)."""
    return TAG + hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:16]


def _e164_form(span: str) -> str:
    """The digits of a number as written, `00` read as `+`: `0039 320-101` -> `+39320101`."""
    digits = re.sub(r"\D", "", span)
    if span.startswith("+"):
        return "+" + digits
    return "+" + digits[2:] if digits.startswith("00") else digits


def _text(text: str, key: bytes, keep: Collection[str], own: str | None) -> str:
    """Every number in `text` replaced; `own` (the alert's number key) whatever its length."""
    def swap(match: re.Match[str]) -> str:
        span = match.group(0)
        number = _e164_form(span)
        if number == own:
            return pseudonym(number, key)
        if len(number.lstrip("+")) < MIN_DIGITS or span in keep or number in keep:
            return span
        return pseudonym(number, key)

    if own is not None and not own.startswith("+"):  # a raw caller ID (`raw:...`) as a key
        text = re.sub(rf"(?<![\w+]){re.escape(own)}(?!\w)", pseudonym(own, key), text)
    return _NUMBER.sub(swap, text)


def public_ids(detector: str, alert_key: str, alert_id: str, key: bytes,
               keep: Collection[str] = frozenset()) -> tuple[str, str]:
    """An incident's (key, alert_id) as they leave: unchanged for a block of numbers, a
    trunk or a protected number, else the key's pseudonym and a keyed alert_id."""
    if detector in PREFIX_KEYED or alert_key.startswith("trunk:") or alert_key in keep:
        return alert_key, alert_id
    return pseudonym(alert_key, key), hmac.new(
        key, f"alert_id:{alert_id}".encode(), hashlib.sha256).hexdigest()[:len(alert_id)]


def pseudonymise(alert: Alert, key: bytes, keep: Collection[str] = frozenset()) -> Alert:
    """`alert` with every phone number replaced by its pseudonym (see the module's docstring);
    `keep`: E.164 numbers that stay readable (the policy's protected numbers). The `alert_id`
    of a number's alert is keyed too: it is a hash of the number, which anyone could
    recompute for every number of the plan."""
    new_key, new_id = public_ids(alert.detector, alert.key, alert.alert_id, key, keep)
    own = None if new_key == alert.key else alert.key
    kept = {*keep, alert.key} if own is None else set(keep)
    update: dict[str, object] = {"key": new_key, "alert_id": new_id}
    ref = alert.incident
    if ref is not None:  # named as the incident's own alert leaves, so the two still join
        ref_key, ref_id = public_ids(ref.detector, ref.key, ref.alert_id, key, keep)
        update["incident"] = ref.model_copy(update={"key": ref_key, "alert_id": ref_id})
        text = alert.explanation.replace(ref.alert_id, ref_id)
        if ref_key == ref.key:
            kept.add(ref.key)
    else:
        text = alert.explanation
    update["explanation"] = _text(text, key, kept, own)
    return alert.model_copy(update=update)


class MissingPseudonymKey(ValueError):
    """`[privacy] pseudonymise = true` and neither CDRWATCH_PSEUDONYM_KEY nor its _FILE set."""


def outgoing(policy: Policy, secret: SecretStr | None) -> Callable[[Alert], Alert]:
    """What every alert goes through on its way out: `pseudonymise` with the key when the
    policy asks for it, else unchanged."""
    if not policy.privacy.pseudonymise:
        return lambda alert: alert
    key, keep = _secret(policy, secret)
    return lambda alert: pseudonymise(alert, key, keep)


IncidentIds = Callable[[str, str, str], tuple[str, str]]  # (detector, key, alert_id) -> out


def outgoing_ids(policy: Policy, secret: SecretStr | None) -> IncidentIds:
    """How a verdict or a warning names its incident: as the alerts topic names it. Their
    subscriber and caller stay numbers: they are for the operator's own systems (a switch,
    an SMS gateway), which act on numbers."""
    if not policy.privacy.pseudonymise:
        return lambda detector, key, alert_id: (key, alert_id)
    secret_key, keep = _secret(policy, secret)
    return lambda detector, key, alert_id: public_ids(detector, key, alert_id, secret_key, keep)


def _secret(policy: Policy, secret: SecretStr | None) -> tuple[bytes, frozenset[str]]:
    if secret is None:
        raise MissingPseudonymKey(
            "the policy sets [privacy] pseudonymise = true but no key is given: set "
            "CDRWATCH_PSEUDONYM_KEY or CDRWATCH_PSEUDONYM_KEY_FILE")
    return secret.get_secret_value().encode(), policy.protected_e164
