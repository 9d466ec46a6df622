"""Assemble normal traffic and campaigns into JSON-ready CallEvent records and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streams.traffic.calls import TRUNK_KIND, Calls, Context
from streams.traffic.campaigns import DELIVERY, TRAPS, run_campaign, run_delivery
from streams.traffic.config import TrafficConfig
from streams.traffic.delivery import Delivery, sent
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
    ctx = Context.build(config.home_region, config.seed, t0, config.hours,
                        config.calls_per_hour * config.international_share)
    parts = [normal_traffic(ctx, config.calls_per_hour, config.international_share)]
    summaries: list[dict[str, Any]] = []
    deliveries = []
    for k, spec in enumerate(config.campaigns, 1):
        cid = spec.id or f"{spec.name}-{k}"
        if spec.name in DELIVERY:
            deliveries.append((len(summaries), spec, cid))
            summaries.append({})  # filled once every call exists, in this place
            continue
        calls, summary = run_campaign(ctx, spec, cid)
        parts.append(calls)
        summaries.append(summary)
    if len(deliveries) > 1:
        raise ValueError("at most one delivery trap (duplicates_late) per run")
    calls = Calls.concat(parts)
    plan = None
    for at, spec, cid in deliveries:
        plan, summaries[at] = run_delivery(ctx, spec, cid, calls.start)
    summaries = [{**s, "start": _iso(s["start"]), "end": _iso(s["end"])} for s in summaries]
    ids = [s["id"] for s in summaries]
    if len(set(ids)) != len(ids):
        raise ValueError(f"campaign ids must be unique: {ids}")
    records, labels = _records(calls, config, plan)
    return Traffic(records, labels, summaries)


def generate(config: TrafficConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(records, labels) for `config`; see `generate_traffic` for the campaign summaries."""
    traffic = generate_traffic(config)
    return traffic.records, traffic.labels


def _stamps(calls: Calls, config: TrafficConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per call: record_id, arrival time, whether the record shows its ingress_kind.

    Arrival = start + bounded delay, so no record is later than max_lateness_s behind the
    newest start time seen before it (unless a delivery trap delays or resends it). Trap
    calls draw theirs from a stream of their own and number their own ids ('-T'), so adding
    a trap leaves every other record byte for byte as it was.
    """
    n = len(calls)
    prefix = config.id_prefix or f"{config.home_region.lower()}{config.seed}"
    trap = np.array([s in TRAPS for s in calls.scenario.tolist()], dtype=bool)
    record_id = np.empty(n, dtype=object)
    arrival = np.empty(n)
    kind_on = np.empty(n, dtype=bool)
    for mask, names, tag in ((~trap, ("arrival",), ""), (trap, ("arrival", "traps"), "T")):
        rng = sub_rng(config.seed, *names)
        idx = np.flatnonzero(mask)
        by_start = idx[np.argsort(calls.start[idx], kind="stable")]
        record_id[by_start] = [f"{prefix}-{tag}{i:07d}" for i in range(len(idx))]
        arrival[idx] = calls.start[idx] + rng.uniform(0, config.max_lateness_s, len(idx))
        kind_on[idx] = rng.random(len(idx)) < config.ingress_kind_share
    return record_id, arrival, kind_on


def _records(calls: Calls, config: TrafficConfig, plan: Delivery | None = None
             ) -> tuple[list[dict], list[dict]]:
    record_id, arrival, kind_on = _stamps(calls, config)
    index, arrival = sent(arrival, plan)
    order = index[np.lexsort((calls.start[index], arrival))]

    c = {name: getattr(calls, name)[order] for name in calls.__dataclass_fields__}
    start = c["start"]
    answered = c["answered"].tolist()
    cols = zip(
        record_id[order].tolist(), rfc3339(start), rfc3339(start + c["ring"]),
        rfc3339(start + c["ring"] + c["duration"]), c["duration"].tolist(), answered,
        c["cause"].tolist(), c["calling"].tolist(), c["network"].tolist(), c["called"].tolist(),
        c["trunk"].tolist(), kind_on[order].tolist(), c["verstat"].tolist(),
        c["attestation"].tolist(), c["roaming"].tolist(), c["direction"].tolist(), strict=True,
    )
    records: list[dict[str, Any]] = []
    for rid, st, at, et, dur, ans, cause, cg, net, cd, trunk, kind, vs, att, roam, way in cols:
        rec: dict[str, Any] = {"record_id": rid, "start_time": st}
        if ans:
            rec["answer_time"] = at
        rec["end_time"] = et
        rec["duration_s"] = dur
        rec["answered"] = ans
        rec["release_cause"] = cause
        rec["calling_number"] = cg
        if net is not None:
            rec["network_number"] = net
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
        if way is not None:
            rec["direction"] = way
        records.append(rec)
    labels = [
        {"record_id": rid, "scenario": sc, "campaign": cp,
         "fraud": cp is not None and sc not in TRAPS, "component": comp,
         **({"trap": sc} if sc in TRAPS else {})}
        for rid, sc, cp, comp in zip(record_id[order].tolist(), c["scenario"].tolist(),
                                     c["campaign"].tolist(), c["component"].tolist(), strict=True)
    ]
    if plan is not None:
        for label, twice, late_s in zip(labels, plan.twice[order].tolist(),
                                        plan.late_s[order].tolist(), strict=True):
            if twice:
                label["duplicate"] = True
            if late_s:
                label["late_s"] = late_s
    return records, labels
