"""Builders of CDRs and policies for the detector tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from streams.events import CallEvent
from streams.policy import Policy

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def cdr(seconds: float = 0, **fields: Any) -> CallEvent:
    base: dict[str, Any] = {
        "record_id": f"r{seconds:g}-{fields.get('calling_number', '')}-"
        f"{fields.get('called_number', '')}",
        "start_time": T0 + timedelta(seconds=seconds),
        "duration_s": 30.0, "answered": True, "calling_number": "+447911123456",
        "called_number": "3331234567", "ingress_trunk": "INTL-BICS-1",
    }
    return CallEvent(**{**base, **fields})


def policy(**overrides: Any) -> Policy:
    data: dict[str, Any] = {
        "home_country": "IT",
        "protected_numbers": {"numbers": ["4010086", "+393201010086"], "prefixes": ["+39409"]},
        "trunks": {"INTL-BICS-1": "international", "NAT-TIM-1": "national",
                   "ENT-ACME-SIP": "national"},
        "allowlist": {"trunk_numbers": {"ENT-ACME-SIP": ["+390212345678"]},
                      "calling_numbers": ["+390699999999"]},
    }
    data.update(overrides)
    return Policy.model_validate(data)
