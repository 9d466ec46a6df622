"""`cdrwatch evaluate`: labelled traffic in, precision / recall / latency tables, JSON, PNG out.

The main CLI owns the parser; it calls `add_arguments` on its subparser and `run` with the
parsed namespace. It lives outside `streams.evaluation`, whose package imports the engine
(scipy): that and the chart (matplotlib) load in `run`, not for `--help`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from streams.traffic.cli import FLAGS, add_traffic_arguments
from streams.usage import UsageError, input_file, load_checked_policy, output_file, policy_path

if TYPE_CHECKING:
    from pathlib import Path

    from streams.detect.formats import Misfit
    from streams.evaluation.inputs import Labelled
    from streams.policy import Policy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("traffic from files (`cdrwatch generate` output, or a "
                                    "recorded file: without labels, incidents per day and key)")
    src.add_argument("--events", metavar="FILE", help="events JSONL or CSV")
    src.add_argument("--labels", metavar="FILE",
                     help="labels JSONL (default: beside --events, day.jsonl -> day.labels.jsonl)")
    src.add_argument("--campaigns", metavar="FILE",
                     help="campaign summary JSON/JSONL (default: beside --events, "
                     "day.campaigns.json, else rebuilt from the labels)")
    gen = parser.add_argument_group("or a labelled sample generated in memory")
    gen.add_argument("--generate", action="store_true", help="generate instead of --events")
    add_traffic_arguments(gen)
    out = parser.add_argument_group("detection and output")
    out.add_argument("--policy", metavar="FILE",
                     help="operator policy TOML (default: $CDRWATCH_POLICY, else the bundled "
                     "default.toml, or with --generate for another country its regulatory preset "
                     "with the generator's trunk names and protected numbers)")
    out.add_argument("--json", metavar="OUT.json", help="write the full evaluation as JSON")
    out.add_argument("--chart", metavar="OUT.png", help="latency bars + timeline as PNG")


def _inputs(args: argparse.Namespace) -> Labelled | None:
    """The labelled traffic; None for a recorded file that has no labels."""
    from streams.evaluation.inputs import beside, generated, load_files
    from streams.traffic.cli import build_config

    if args.generate:
        return generated(build_config(args))
    events = input_file(args.events, "--events")
    if not args.labels and beside(events, ".labels.jsonl") is None:
        return None
    return load_files(events,
                      args.labels and input_file(args.labels, "--labels"),
                      args.campaigns and input_file(args.campaigns, "--campaigns"))


def _policy(args: argparse.Namespace) -> Policy:
    """The chosen policy (--policy or CDRWATCH_POLICY); unchosen, for generated traffic of a
    country with a shipped preset other than the default's, that preset plus what only the
    generated operator knows: its trunk names and its own customer-service numbers (a preset
    leaves both to the operator)."""
    from streams.policy import preset_for, preset_policy
    from streams.traffic.calls import TRUNK_KIND
    from streams.traffic.spoofing import default_protected

    default = load_checked_policy(args.policy)
    if args.policy or policy_path(None)[1]:
        return default
    home = args.home.upper() if args.generate else default.home_country
    name = preset_for(home)
    if home == default.home_country or name is None:
        return default
    print(f"cdrwatch evaluate: {home} traffic judged by the {name!r} preset with the "
          "generator's trunks and protected numbers (--policy to choose)", file=sys.stderr)
    numbers = [*preset_policy(name, {}).protected_numbers.numbers, *default_protected(home)]
    return preset_policy(name, {"trunks": TRUNK_KIND, "protected_numbers": {"numbers": numbers}})


def run(args: argparse.Namespace) -> int:
    import orjson
    from pydantic import ValidationError

    from streams.usage import describe

    if args.generate == bool(args.events):
        raise UsageError("evaluate: give either --events FILE (with labels) or --generate")
    json_out = args.json and output_file(args.json, "--json")
    chart_out = args.chart and output_file(args.chart, "--chart")
    policy = _policy(args)
    try:
        data = _inputs(args)
    except ValidationError as exc:
        raise UsageError(f"evaluate: {describe(exc, FLAGS)}") from exc
    except (ValueError, OSError) as exc:
        raise UsageError(f"evaluate: {exc}") from exc
    if args.generate and args.home.upper() != policy.home_country.upper():
        print(f"cdrwatch evaluate: warning: traffic of {args.home.upper()} judged by a policy for "
              f"{policy.home_country}; pass --policy for {args.home.upper()}", file=sys.stderr)
    if data is None:  # a recorded file without labels
        return _unlabelled(args, policy, json_out)
    for line in data.rejected[:20]:
        print(f"rejected: {line}", file=sys.stderr)

    from streams.evaluation.observe import evaluate
    from streams.evaluation.report import print_report, to_json

    ev = evaluate(data.events, data.labels, policy, data.campaigns)
    print_report(ev, source=data.source)
    _warn(ev.misdeclared)
    if json_out:
        json_out.write_bytes(orjson.dumps(to_json(ev, data.source), option=orjson.OPT_INDENT_2))
    if chart_out:
        from streams.evaluation.chart import render

        render(ev, chart_out, title=f"cdrwatch evaluation: {data.source}")
    return 0


def _warn(misdeclared: list[Misfit]) -> None:
    """After the report, where a long one does not hide them: trunks whose numbers fit badly."""
    for misfit in misdeclared:
        print(f"cdrwatch evaluate: warning: {misfit.sentence()}", file=sys.stderr)


def _unlabelled(args: argparse.Namespace, policy: Policy, json_out: Path | None) -> int:
    """No labels to score against: incidents per day, per detector and per key."""
    import orjson

    from streams.evaluation.report import print_unlabelled
    from streams.evaluation.unlabelled import summarise, to_json
    from streams.offline import detect_files

    try:
        report = detect_files([input_file(args.events, "--events")], policy)
    except (ValueError, OSError) as exc:
        raise UsageError(f"evaluate: {exc}") from exc
    for source, line_no, reason in report.rejected[:20]:
        print(f"rejected: {source}:{line_no}: {reason}", file=sys.stderr)
    if args.chart:
        print("cdrwatch evaluate: --chart needs labels; not written", file=sys.stderr)
    rep = summarise(report.result, policy, args.events, len(report.rejected))
    print_unlabelled(rep)
    _warn(report.result.misdeclared)
    if json_out:
        json_out.write_bytes(orjson.dumps(to_json(rep), option=orjson.OPT_INDENT_2))
    return 0
