"""`cdrwatch evaluate`: labelled traffic in, precision / recall / latency tables, JSON, PNG out.

The main CLI owns the parser; it calls `add_arguments` on its subparser and `run` with the
parsed namespace.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from pydantic import ValidationError

from streams.evaluation.inputs import Labelled, generated, load_files
from streams.evaluation.observe import evaluate
from streams.evaluation.report import print_report, to_json
from streams.policy import Policy, PolicyError, load_policy, preset_for, preset_policy
from streams.traffic.calls import TRUNK_KIND
from streams.traffic.cli import add_traffic_arguments, build_config
from streams.traffic.spoofing import default_protected


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from streams.settings import DEFAULT_POLICY

    src = parser.add_argument_group("labelled traffic from files (`cdrwatch generate` output)")
    src.add_argument("--events", help="events JSONL or CSV")
    src.add_argument("--labels", help="labels JSONL; default <events>.labels.jsonl")
    src.add_argument("--campaigns", help="campaign summary JSON/JSONL; default "
                     "<events>.campaigns.json, else rebuilt from the labels")
    gen = parser.add_argument_group("or a labelled sample generated in memory")
    gen.add_argument("--generate", action="store_true", help="generate instead of --events")
    add_traffic_arguments(gen)
    out = parser.add_argument_group("detection and output")
    out.add_argument("--policy", help=f"operator policy TOML; default {DEFAULT_POLICY.name}, "
                     "or with --generate for another country its regulatory preset with the "
                     "generator's trunk names and protected numbers")
    out.add_argument("--json", metavar="OUT.json", help="write the full evaluation as JSON")
    out.add_argument("--chart", metavar="OUT.png", help="latency bars + timeline as PNG")


def _inputs(args: argparse.Namespace) -> Labelled:
    if args.generate == bool(args.events):
        raise ValueError("give either --events FILE (with labels) or --generate")
    if args.generate:
        return generated(build_config(args))
    return load_files(Path(args.events), args.labels and Path(args.labels),
                      args.campaigns and Path(args.campaigns))


def _policy(args: argparse.Namespace) -> Policy:
    """The given policy; for generated traffic of a country with a shipped preset other than
    the default's, that preset plus what only the generated operator knows: its trunk names
    and its own customer-service numbers (a preset leaves both to the operator)."""
    from streams.settings import DEFAULT_POLICY

    if args.policy:
        return load_policy(args.policy)
    default = load_policy(DEFAULT_POLICY)
    home = args.home.upper() if args.generate else default.home_country
    name = preset_for(home)
    if home == default.home_country or name is None:
        return default
    print(f"cdrwatch evaluate: {home} traffic judged by the {name!r} preset with the "
          "generator's trunks and protected numbers (--policy to choose)", file=sys.stderr)
    numbers = [*preset_policy(name, {}).protected_numbers.numbers, *default_protected(home)]
    return preset_policy(name, {"trunks": TRUNK_KIND, "protected_numbers": {"numbers": numbers}})


def run(args: argparse.Namespace) -> int:
    try:
        policy = _policy(args)
        data = _inputs(args)
    except (PolicyError, ValueError, ValidationError, OSError) as exc:
        print(f"cdrwatch evaluate: {exc}", file=sys.stderr)
        return 2
    if args.generate and args.home.upper() != policy.home_country.upper():
        print(f"cdrwatch evaluate: warning: traffic of {args.home.upper()} judged by a policy for "
              f"{policy.home_country}; pass --policy for {args.home.upper()}", file=sys.stderr)
    for line in data.rejected[:20]:
        print(f"rejected: {line}", file=sys.stderr)
    ev = evaluate(data.events, data.labels, policy, data.campaigns)
    print_report(ev, source=data.source)
    if args.json:
        Path(args.json).write_bytes(orjson.dumps(to_json(ev, data.source),
                                                 option=orjson.OPT_INDENT_2))
    if args.chart:
        try:
            from streams.evaluation.chart import render
        except ImportError as exc:
            print(f"cdrwatch evaluate: --chart needs matplotlib ({exc})", file=sys.stderr)
            return 2
        render(ev, args.chart, title=f"cdrwatch evaluation: {data.source}")
    return 0
