"""Assemble normal traffic and campaigns into JSON-ready CallEvent records and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.traffic.calls import TRUNK_KIND, Calls, Context
from streams.traffic.campaigns import run_campaign
from streams.traffic.config import TrafficConfig
from streams.traffic.normal import normal_traffic
from streams.traffic.numbers import sub_rng


@dataclass
class Traffic:
    """Records and labels in arrival order (same order), plus one summary per campaign."""

    records: list[dict[str, Any]]
    labels: list[dict[str, Any]]
    campaigns: list[dict[str, Any]]


def rfc3339(epoch: np.ndarray) -> list[str]:
    """Vectorised UTC timestamps with milliseconds and a 'Z'."""
    ms = np.round(epoch * 1000).astype("int64").astype("datetime64[ms]")
    return [s + "Z" for s in np.datetime_as_string(ms, unit="ms").tolist()]


def _iso(epoch: float) -> str:
    return rfc3339(np.array([epoch]))[0]


def generate_traffic(config: TrafficConfig) -> Traffic:
    """Deterministic for a given config: same seed, same records, same order, same bytes."""
    t0 = config.start.timestamp()
    ctx = Context.build(config.home_region, config.seed, t0, config.hours)
    parts = [normal_traffic(ctx, config.calls_per_hour, config.international_share)]
    summaries = []
    for k, spec in enumerate(config.campaigns, 1):
        calls, summary = run_campaign(ctx, spec, spec.id or f"{spec.name}-{k}")
        parts.append(calls)
        summaries.append({**summary, "start": _iso(summary["start"]),
                          "end": _iso(summary["end"])})
    ids = [s["id"] for s in summaries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"campaign ids must be unique: {ids}")
    calls = Calls.concat(parts)
    records, labels = _records(calls, config)
    return Traffic(records, labels, summaries)


def generate(config: TrafficConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records, labels) for `config`; see `generate_traffic` for the campaign summaries."""
    traffic = generate_traffic(config)
    return traffic.records, traffic.labels


def _records(calls: Calls, config: TrafficConfig) -> tuple[list[dict], list[dict]]:
    rng = sub_rng(config.seed, "arrival")
    by_start = np.argsort(calls.start, kind="stable")
    prefix = config.id_prefix or f"{config.home_region.lower()}{config.seed}"
    record_id = np.empty(len(calls), dtype=object)
    record_id[by_start] = [f"{prefix}-{i:07d}" for i in range(len(calls))]
    # Arrival = start + bounded delay, so no record is later than max_lateness_s behind
    # the newest start time seen before it.
    arrival = calls.start + rng.uniform(0, config.max_lateness_s, len(calls))
    order = np.lexsort((calls.start, arrival))
    kind_on = rng.random(len(calls)) < config.ingress_kind_share

    c = {name: getattr(calls, name)[order] for name in calls.__dataclass_fields__}
    start = c["start"]
    answered = c["answered"].tolist()
    cols = zip(
        record_id[order].tolist(), rfc3339(start), rfc3339(start + c["ring"]),
        rfc3339(start + c["ring"] + c["duration"]), c["duration"].tolist(), answered,
        c["cause"].tolist(), c["calling"].tolist(), c["called"].tolist(), c["trunk"].tolist(),
        kind_on[order].tolist(), c["verstat"].tolist(), c["attestation"].tolist(),
        c["roaming"].tolist(), strict=True,
    )
    records: list[dict[str, Any]] = []
    for rid, st, at, et, dur, ans, cause, cg, cd, trunk, kind, vs, att, roam in cols:
        rec: dict[str, Any] = {"record_id": rid, "start_time": st}
        if ans:
            rec["answer_time"] = at
        rec["end_time"] = et
        rec["duration_s"] = dur
        rec["answered"] = ans
        rec["release_cause"] = cause
        rec["calling_number"] = cg
        rec["called_number"] = cd
        rec["ingress_trunk"] = trunk
        if kind:
            rec["ingress_kind"] = TRUNK_KIND.get(trunk, "national")
        if vs is not None:
            rec["verstat"] = vs
        if att is not None:
            rec["attestation"] = att
        if roam is not None:
            rec["calling_roaming"] = roam
        records.append(rec)
    labels = [
        {"record_id": rid, "scenario": sc, "campaign": cp, "fraud": cp is not None,
         "component": comp}
        for rid, sc, cp, comp in zip(record_id[order].tolist(), c["scenario"].tolist(),
                                     c["campaign"].tolist(), c["component"].tolist(), strict=True)
    ]
    return records, labels
