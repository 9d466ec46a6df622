"""The scenario registry: names, documented parameters, and a default plan of campaigns."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np

from streams.traffic import bursts, carriers, spoofing
from streams.traffic.calls import Calls, Context
from streams.traffic.config import CampaignSpec
from streams.traffic.numbers import sub_rng

Scenario = Callable[..., spoofing.Result]

SCENARIOS: dict[str, Scenario] = {
    fn.__name__: fn
    for fn in (
        spoofing.protected_spoof, spoofing.domestic_from_abroad, spoofing.invalid_caller,
        spoofing.stir_failed, spoofing.neighbour_spoof, spoofing.hotline_lookalike,
        bursts.intl_burst, bursts.wangiri, bursts.fanout_number, bursts.slow_ramp,
        bursts.bombarded_subscriber, carriers.bare_digit_trunk,
    )
}


def scenario_params(name: str) -> dict[str, Any]:
    """A scenario's keyword parameters and their defaults (the documentation, from code)."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    sig = inspect.signature(SCENARIOS[name])
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


def run_campaign(ctx: Context, spec: CampaignSpec, cid: str) -> tuple[Calls, dict[str, Any]]:
    """Run one scenario; returns its calls and a summary (id, scenario, start, end, params)."""
    defaults = scenario_params(spec.name)
    unknown = set(spec.params) - set(defaults)
    if unknown:
        raise ValueError(f"{spec.name}: unknown parameter(s) {sorted(unknown)}; "
                         f"known: {sorted(defaults)}")
    params = {k: _coerce(spec.name, k, v, defaults[k]) for k, v in spec.params.items()}
    rng = sub_rng(ctx.seed, "campaign", cid)
    t0 = ctx.t0 + spec.start_offset.total_seconds()
    calls, resolved = SCENARIOS[spec.name](ctx, rng, t0, cid, **params)
    # A trap scenario adds the ordinary traffic around its campaign (campaign None): the
    # summary covers the campaign's own calls.
    own = calls.campaign == cid
    ends = (calls.start + calls.ring + calls.duration)[own]
    summary = {
        "id": cid,
        "scenario": spec.name,
        "fraud": True,
        "start": float(calls.start[own].min()) if own.any() else t0,
        "end": float(ends.max()) if own.any() else t0,
        "calls": int(own.sum()),
        "parameters": {**defaults, **params, **resolved},
    }
    return calls, summary


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
