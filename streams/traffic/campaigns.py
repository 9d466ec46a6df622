"""The scenario registry: names, documented parameters, and a default plan of campaigns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from streams.traffic import bursts, carriers, delivery, screening, spoofing, traps
from streams.traffic.calls import Calls, Context
from streams.traffic.config import CampaignSpec
from streams.traffic.numbers import region_zone, sub_rng

Scenario = Callable[..., spoofing.Result]

# Legitimate traffic shaped like fraud: labelled fraud false, an alert on it is false.
TRAP_SCENARIOS: tuple[Scenario, ...] = (
    traps.roamer_unflagged, traps.foreign_call_centre, traps.forwarding_transit,
    traps.holiday_surge, screening.valid_short_numbers, screening.unscreened_trunk,
)
SCENARIOS: dict[str, Scenario] = {
    fn.__name__: fn
    for fn in (
        spoofing.protected_spoof, spoofing.domestic_from_abroad, spoofing.invalid_caller,
        spoofing.stir_failed, spoofing.neighbour_spoof, spoofing.hotline_lookalike,
        bursts.intl_burst, bursts.wangiri, bursts.wangiri_callbacks, bursts.fanout_number,
        bursts.slow_ramp,
        bursts.bombarded_subscriber, carriers.bare_digit_trunk, *TRAP_SCENARIOS,
    )
}
# Traps on how records arrive rather than on what the calls are (streams/traffic/delivery.py).
DELIVERY: dict[str, Callable[..., delivery.Delivery]] = {
    delivery.duplicates_late.__name__: delivery.duplicates_late,
}
TRAPS = frozenset({fn.__name__ for fn in TRAP_SCENARIOS} | set(DELIVERY))
KNOWN = (*SCENARIOS, *DELIVERY)


def scenario_params(name: str) -> dict[str, Any]:
    """A scenario's keyword parameters and their defaults (the documentation, from code)."""
    fn = SCENARIOS.get(name) or DELIVERY.get(name)
    if fn is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(KNOWN))}")
    sig = inspect.signature(fn)
    return {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY}


def _coerce(name: str, key: str, value: Any, default: Any) -> Any:
    """CLI values arrive as strings; give them the type of the documented default."""
    if not isinstance(value, str) or default is None or isinstance(default, str):
        return value
    try:
        if isinstance(default, bool):
            return value.lower() in ("1", "true", "yes", "on")
        return type(default)(value)
    except ValueError:
        raise ValueError(
            f"{name}: parameter {key}={value!r} is not a {type(default).__name__}"
        ) from None


def checked_params(spec: CampaignSpec) -> dict[str, Any]:
    """The spec's parameters, each known to its scenario and of its default's type."""
    defaults = scenario_params(spec.name)
    unknown = set(spec.params) - set(defaults)
    if unknown:
        raise ValueError(f"{spec.name}: unknown parameter(s) {sorted(unknown)}; "
                         f"known: {sorted(defaults)}")
    return {k: _coerce(spec.name, k, v, defaults[k]) for k, v in spec.params.items()}


def _summary(spec: CampaignSpec, cid: str, params: dict[str, Any]) -> dict[str, Any]:
    """What every campaign summary says first; a trap says it is no fraud."""
    head: dict[str, Any] = {"id": cid, "scenario": spec.name, "fraud": spec.name not in TRAPS}
    if spec.name in TRAPS:
        head["trap"] = True
    return {**head, "parameters": {**scenario_params(spec.name), **params}}


def run_delivery(ctx: Context, spec: CampaignSpec, cid: str, start: np.ndarray
                 ) -> tuple[delivery.Delivery, dict[str, Any]]:
    """Which of the calls (start times `start`) arrive twice or late, and the summary."""
    params = checked_params(spec)
    t0 = ctx.t0 + spec.start_offset.total_seconds()
    plan = DELIVERY[spec.name](sub_rng(ctx.seed, "delivery", cid), start, t0, **params)
    touched = plan.twice | (plan.late_s > 0)
    head = _summary(spec, cid, {**params, "duplicated": int(plan.twice.sum()),
                                "late": int((plan.late_s > 0).sum())})
    parameters = head.pop("parameters")
    return plan, {**head, "start": float(start[touched].min()) if touched.any() else t0,
                  "end": float(start[touched].max()) if touched.any() else t0,
                  "calls": int(touched.sum()), "parameters": parameters}


def run_campaign(ctx: Context, spec: CampaignSpec, cid: str) -> tuple[Calls, dict[str, Any]]:
    """Run one scenario; returns its calls and a summary (id, scenario, start, end, params)."""
    params = checked_params(spec)
    rng = sub_rng(ctx.seed, "campaign", cid)
    t0 = ctx.t0 + spec.start_offset.total_seconds()
    calls, resolved = SCENARIOS[spec.name](ctx, rng, t0, cid, **params)
    # A trap scenario adds the ordinary traffic around its campaign (campaign None): the
    # summary covers the campaign's own calls.
    own = calls.campaign == cid
    ends = (calls.start + calls.ring + calls.duration)[own]
    head = _summary(spec, cid, {**params, **resolved})
    parameters = head.pop("parameters")
    return calls, {
        **head,
        "start": float(calls.start[own].min()) if own.any() else t0,
        "end": float(ends.max()) if own.any() else t0,
        "calls": int(own.sum()),
        "parameters": parameters,
    }


_PLAN: dict[str, list[tuple[str, float]]] = {
    # scenario, start as a fraction of the run (after a warm-up the baselines need)
    "IT": [("protected_spoof", 0.20), ("domestic_from_abroad", 0.28), ("invalid_caller", 0.34),
           ("stir_failed", 0.40), ("intl_burst", 0.46), ("wangiri", 0.52),
           ("fanout_number", 0.58), ("slow_ramp", 0.62), ("bombarded_subscriber", 0.72),
           ("neighbour_spoof", 0.78)],
    "CN": [("protected_spoof", 0.20), ("hotline_lookalike", 0.26), ("domestic_from_abroad", 0.32),
           ("invalid_caller", 0.38), ("stir_failed", 0.42), ("intl_burst", 0.48),
           ("wangiri", 0.54), ("fanout_number", 0.60), ("slow_ramp", 0.64),
           ("bombarded_subscriber", 0.74), ("neighbour_spoof", 0.80)],
}


def default_campaigns(home: str, hours: float) -> list[CampaignSpec]:
    """Every scenario once, staggered across the run (`--all-campaigns`)."""
    plan = _PLAN.get(home.upper(), _PLAN["IT"])
    if home.upper() not in _PLAN:
        plan = [*plan, ("hotline_lookalike", 0.84)]
    specs = []
    for name, frac in plan:
        params: dict[str, Any] = {}
        if name == "slow_ramp":
            params["hours"] = float(np.clip(hours * 0.25, 0.25, 2.0))
        specs.append(CampaignSpec(name=name, params=params,
                                  start_offset=timedelta(hours=hours * frac)))
    return specs


def default_traps(home: str, hours: float, start: datetime) -> list[CampaignSpec]:
    """Every trap once (`--all-traps`): the all-day ones from the first call to the last,
    so they recur on every day of a multi-day run; the holiday surge on the last evening
    (18:00 home time), after the detectors had the other days to learn."""
    specs = [CampaignSpec(name=name, start_offset=timedelta(0)) for name in TRAPS
             if name != "holiday_surge"]
    last = start + timedelta(hours=max(hours - 24.0, 0.0))
    local = last.astimezone(region_zone(home))
    evening = local.replace(hour=18, minute=0, second=0, microsecond=0)
    if evening < local:
        evening += timedelta(days=1)
    offset = min(evening - start, timedelta(hours=max(hours - 3.0, 0.0)))
    return [*sorted(specs, key=lambda s: s.name),
            CampaignSpec(name="holiday_surge", start_offset=offset)]
