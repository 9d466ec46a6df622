"""Per-call caller-ID spoofing rules: a call in, verdicts out, no state."""

from __future__ import annotations

from dataclasses import dataclass

from streams.detect.calls import Call
from streams.events import Severity
from streams.numbering import classify
from streams.policy import Policy

FAILED_VERSTAT = "tn-validation-failed"
LOOKALIKE_MIN_DIGITS = 6
WEAK_VERSTAT = "no-tn-validation"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One rule's finding on one call, with the sentence an analyst reads."""

    rule: str
    severity: Severity
    score: float
    reason: str


def is_protected(e164: str | None, policy: Policy) -> bool:
    """On the do-not-originate list, or in a number class that never places calls."""
    if not e164:
        return False
    return e164 in policy.protected_e164 or e164.startswith(policy.protected_prefixes)


def _allowed(call: Call, policy: Policy) -> bool:
    trunk = call.event.ingress_trunk
    if trunk in policy.allowlist.trunks:
        return True
    key = call.caller.e164
    return bool(key) and (key in policy.allowed_e164
                          or key in policy.trunk_allowed_e164.get(trunk, ()))


def _lookalike(call: Call, policy: Policy) -> Verdict | None:
    caller = call.caller
    if caller.form in ("anonymous", "garbage") or is_protected(caller.e164, policy):
        return None
    # The E.164 form keeps every presented digit but the "00"/trunk prefixes: no need to
    # re-read the raw text of every call. Short codes are too short to tell a copy from
    # chance.
    for nsn, e164 in policy.protected_national:
        if len(nsn) >= LOOKALIKE_MIN_DIGITS and nsn in caller.e164:
            return Verdict(
                "spoof_lookalike", "high", 0.9,
                f"caller ID {caller.raw.strip()[:32]} is built around the digits of protected "
                f"number {e164} (a look-alike of an official hotline)",
            )
    if not caller.valid and caller.e164:
        return _class_lookalike(caller.raw, caller.e164, policy)
    return None


def _class_lookalike(raw: str, e164: str, policy: Policy) -> Verdict | None:
    """An invalid caller ID that ends with a whole valid number of a protected class: a
    hotline of that class ("400 681 6666") behind a "00" or a foreign country code, the
    way fraud rings dress a fake customer-service line. The list of such hotlines is open
    (every company has one), so the class stands for them; a valid foreign number that
    happens to end the same way is left alone."""
    digits = e164[1:]
    for lead, prefix in policy.protected_home_classes:
        at = digits.find(lead)
        while at >= 0:
            hotline = classify(prefix[: -len(lead)] + digits[at:], policy.home_country)
            if hotline.valid and hotline.e164 != e164:
                return Verdict(
                    "spoof_lookalike", "high", 0.9,
                    f"caller ID {raw.strip()[:32]} ends with {hotline.e164}, a number of "
                    f"protected class {prefix} that never places calls (a look-alike of a "
                    "service hotline)",
                )
            at = digits.find(lead, at + 1)
    return None


def _weak_attestation(call: Call) -> bool:
    verstat = (call.event.verstat or "").lower()
    return call.event.attestation == "C" or verstat == WEAK_VERSTAT


def _protected(call: Call, policy: Policy) -> Verdict | None:
    e164 = call.caller.e164
    if not e164:
        return None
    if e164 in policy.protected_e164:
        why = "is on the operator's do-not-originate list"
    elif e164.startswith(policy.protected_prefixes):
        why = "belongs to a number class that never places calls"
    else:
        return None
    return Verdict(
        "spoof_protected", "critical", 0.99,
        f"caller ID {e164} {why}, yet it was presented on trunk {call.event.ingress_trunk} "
        f"({call.ingress_kind})",
    )


def _domestic_from_abroad(call: Call, policy: Policy) -> Verdict | None:
    if call.ingress_kind != "international" or not call.domestic_caller or not call.caller.valid:
        return None
    if is_protected(call.caller.e164, policy):
        return None  # spoof_protected already says more
    kind = call.caller.kind
    trunk = call.event.ingress_trunk
    if kind in ("mobile", "fixed_or_mobile", "personal"):
        if call.event.calling_roaming is True:
            return None
        if call.event.calling_roaming is None:
            return Verdict(
                "spoof_unverified_roaming", "low", 0.5,
                f"home mobile caller ID {call.caller.e164} arrived on international trunk {trunk} "
                "and the record does not say whether the subscriber is roaming",
            )
        why = "the subscriber is not roaming abroad"
    else:
        why = f"a home {kind.replace('_', ' ')} number cannot originate abroad"
    return Verdict(
        "spoof_domestic_from_abroad", "high", 0.9,
        f"home caller ID {call.caller.e164} arrived on international trunk {trunk}: {why}",
    )


def _invalid(call: Call, policy: Policy) -> Verdict | None:
    caller = call.caller
    spoofing = policy.spoofing
    if caller.form == "anonymous" or is_protected(caller.e164, policy):
        return None
    if caller.form == "garbage":
        why = f"caller ID {caller.raw[:32]!r} is not a dialable number"
    elif caller.short_code and call.ingress_kind == "international":
        why = f"short code {caller.e164} cannot be presented by a call from abroad"
    elif caller.short_code:
        return None
    elif not caller.valid:
        why = f"caller ID {caller.e164} is not a valid number of its numbering plan"
    elif caller.kind == "premium_rate" and spoofing.flag_premium_rate:
        why = f"premium-rate number {caller.e164} presented as the caller"
    elif caller.kind == "toll_free" and spoofing.flag_toll_free:
        why = f"toll-free number {caller.e164} presented as the caller"
    else:
        return None
    return Verdict("spoof_invalid_caller", "medium", 0.8, why)


def _stir_shaken(call: Call) -> Verdict | None:
    if (call.event.verstat or "").lower() != FAILED_VERSTAT:
        return None
    return Verdict(
        "spoof_stir_shaken", "high", 0.9,
        f"STIR/SHAKEN verification failed for caller ID {call.caller_key}",
    )


def _network_mismatch(call: Call, policy: Policy) -> Verdict | None:
    net = call.network
    if net is None or net.country_code is None or call.caller.country_code is None:
        return None
    if net.country_code == call.caller.country_code:
        return None
    if not (call.domestic_caller or is_protected(call.caller.e164, policy)):
        return None
    return Verdict(
        "spoof_network_mismatch", "high", 0.85,
        f"presented home caller ID {call.caller.e164} but the network-asserted identity is "
        f"+{net.country_code} (foreign)",
    )


def verdicts(call: Call, policy: Policy) -> tuple[list[Verdict], list[Verdict]]:
    """(verdicts, suppressed): what the enabled rules found, and what the allowlist silenced."""
    rules = policy.spoofing
    lookalike = rules.lookalike and _lookalike(call, policy)
    found = [
        rules.protected and _protected(call, policy),
        rules.domestic_on_international and _domestic_from_abroad(call, policy),
        lookalike,
        # a look-alike is usually invalid too; the look-alike verdict says more
        not lookalike and rules.invalid_caller_id and _invalid(call, policy),
        rules.stir_shaken and _stir_shaken(call),
        rules.network_mismatch and _network_mismatch(call, policy),
    ]
    out = [v for v in found if v]
    if not out:
        return [], []
    if _allowed(call, policy):
        return [], out
    if rules.stir_shaken and _weak_attestation(call):
        out = [
            Verdict(v.rule, v.severity, min(0.99, v.score + 0.05), v.reason + "; weak attestation")
            for v in out
        ]
    return out, []
