"""`cdrwatch generate`: synthetic CDR traffic with labels, from the command line.

The main CLI owns the parser; it calls `add_arguments` on its subparser and `run` with
the parsed namespace. Generation and writing load in `run`, not for `--help`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from streams.traffic.campaigns import KNOWN, TRAPS, default_campaigns, default_traps
from streams.traffic.config import CampaignSpec, TrafficConfig
from streams.usage import UsageError, describe, output_file

# TrafficConfig fields -> the flags that set them, for error messages.
FLAGS = {"home_region": "--home", "start": "--start", "hours": "--hours",
          "calls_per_hour": "--calls-per-hour", "international_share": "--international-share",
          "seed": "--seed", "max_lateness_s": "--max-lateness"}
_OFFSET = re.compile(r"^(\d+(?:\.\d+)?)([smh]?)$")


def parse_offset(text: str) -> timedelta:
    """'90m', '1.5h', '300s', '300' (seconds)."""
    m = _OFFSET.match(text.strip())
    if not m:
        raise ValueError(f"bad offset {text!r}; use e.g. 90m, 1.5h or 300s")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]
    return timedelta(seconds=float(m.group(1)) * unit)


def parse_campaign(text: str) -> CampaignSpec:
    """'intl_burst:prefix=+6391755,calls=400,at=2h,id=burst1' -> CampaignSpec."""
    name, _, rest = text.partition(":")
    if name not in KNOWN:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(KNOWN))}")
    params: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"campaign option {item!r} is not key=value")
        if key == "at":
            extra["start_offset"] = parse_offset(value)
        elif key == "id":
            extra["id"] = value
        else:
            params[key] = value
    return CampaignSpec(name=name, params=params, **extra)


def add_traffic_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """What traffic to generate: shared by `cdrwatch generate` and `cdrwatch evaluate`."""
    parser.add_argument("--home", default="IT", help="operator's ISO region (IT, CN, ...)")
    parser.add_argument("--start", default="2026-11-20T00:00:00Z",
                        help="first event time, RFC 3339 with Z or offset")
    parser.add_argument("--hours", type=float, default=None,
                        help="length of the traffic (default 24; --days wins over it)")
    parser.add_argument("--days", type=int, default=None, metavar="N",
                        help="N x 24 h, each day with its own daily profile; all-day traps "
                        "recur every day, campaigns keep at= offsets from --start (at=26h is "
                        "day 2); overrides --hours")
    parser.add_argument("--calls-per-hour", type=float, default=2000.0,
                        help="daily mean of normal domestic + international calls")
    parser.add_argument("--international-share", type=float, default=0.08,
                        help="share of normal calls from abroad")
    parser.add_argument("--seed", type=int, default=7,
                        help="random seed: the same seed gives the same records")
    parser.add_argument("--max-lateness", type=float, default=30.0, metavar="SECONDS",
                        help="records arrive at most this far out of start-time order")
    parser.add_argument("--campaign", action="append", default=[], metavar="NAME[:k=v,...]",
                        help="inject a scenario; keys are its parameters plus at=90m and id=. "
                        "Repeatable. Fraud: "
                        f"{', '.join(n for n in KNOWN if n not in TRAPS)}. Traps (legitimate "
                        "traffic shaped like fraud, labelled fraud false; hours= unset runs "
                        f"to the end of the run): {', '.join(sorted(TRAPS))}")
    parser.add_argument("--all-campaigns", action="store_true",
                        help="every fraud scenario once, staggered across the run")
    parser.add_argument("--all-traps", action="store_true",
                        help="every trap once: all-day traps from the start to the end, the "
                        "holiday surge on the last evening (18:00 home time)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_traffic_arguments(parser)
    parser.add_argument("--out", default="events.jsonl", help="records (JSONL); '-' = stdout")
    parser.add_argument("--labels", default=None, metavar="FILE",
                        help="ground-truth labels (JSONL) (default: beside --out, day.jsonl -> "
                        "day.labels.jsonl; none with --out -)")
    parser.add_argument("--campaigns-out", default=None, metavar="FILE",
                        help="campaign summary (JSON) (default: beside --out, day.jsonl -> "
                        "day.campaigns.json; none with --out -)")


def _beside(out: str, suffix: str) -> str | None:
    if out == "-":
        return None
    path = Path(out)
    return str(path.with_name(path.name.removesuffix(".jsonl") + suffix))


def run_hours(args: argparse.Namespace) -> float:
    """--days N is N x 24 h and wins over --hours; neither: one day."""
    if args.days is not None:
        if args.days < 1:
            raise ValueError(f"--days {args.days}: give 1 or more")
        return 24.0 * args.days
    return 24.0 if args.hours is None else args.hours


def build_config(args: argparse.Namespace) -> TrafficConfig:
    hours = run_hours(args)
    start = datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    campaigns = [parse_campaign(c) for c in args.campaign]
    if args.all_traps:
        campaigns = default_traps(args.home, hours, start) + campaigns
    if args.all_campaigns:
        campaigns = default_campaigns(args.home, hours) + campaigns
    return TrafficConfig(
        home_region=args.home,
        start=start,
        hours=hours,
        calls_per_hour=args.calls_per_hour,
        international_share=args.international_share,
        seed=args.seed,
        campaigns=campaigns,
        max_lateness_s=args.max_lateness,
    )


def run(args: argparse.Namespace) -> int:
    from streams.traffic.generate import generate_traffic
    from streams.traffic.writer import write_json, write_jsonl

    labels = args.labels or _beside(args.out, ".labels.jsonl")
    summary = args.campaigns_out or _beside(args.out, ".campaigns.json")
    for path, flag in ((args.out, "--out"), (labels, "--labels"), (summary, "--campaigns-out")):
        if path and path != "-":
            output_file(path, flag)
    try:
        config = build_config(args)
        began = time.perf_counter()
        traffic = generate_traffic(config)
    except ValidationError as exc:
        raise UsageError(f"generate: {describe(exc, FLAGS)}") from exc
    except ValueError as exc:
        raise UsageError(f"generate: {exc}") from exc
    took = time.perf_counter() - began
    write_jsonl(args.out, traffic.records, desc="records")
    if labels:
        write_jsonl(labels, traffic.labels, desc="labels")
    if summary:
        write_json(summary, traffic.campaigns)
    fraud = [c for c in traffic.campaigns if c["fraud"]]
    traps = len(traffic.campaigns) - len(fraud)
    print(f"generated {len(traffic.records):,} records ({sum(c['calls'] for c in fraud):,} in "
          f"{len(fraud)} campaigns{f', {traps} traps' if traps else ''}) in {took:.1f}s "
          f"-> {args.out}", file=sys.stderr)
    return 0
