"""Command-line conventions shared by every `cdrwatch` command: a user error is one line on
stderr and exit code 2, files are checked before any work starts, `--help` shows defaults."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from pydantic import ValidationError

    from streams.events import Alert
    from streams.policy import Policy
    from streams.pseudonym import IncidentIds
    from streams.settings import Settings

EXIT_USAGE = 2


class UsageError(Exception):
    """A mistake the user can fix (a path, a flag, a policy); `main` prints it as one line."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows `(default: X)` only where there is a value to show: not for off-by-default
    switches nor for defaults the help text already explains (None)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if default is None or default is False or default == [] or default == argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


def input_file(path: str | Path, what: str = "input file") -> Path:
    """A file that must exist and be readable, checked up front (not a traceback later)."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{what} {path} does not exist")
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{what} {path} is not readable")
    return path


def output_file(path: str | Path, what: str = "output file") -> Path:
    """A file that can be written: checked before the work whose result it will hold."""
    path = Path(path)
    parent = path.parent
    if path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name")
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{what} {path} is not writable")
    return path


def describe(exc: ValidationError, names: dict[str, str] | None = None) -> str:
    """A pydantic error as `field: why; ...`, without its type tags and documentation URLs;
    `names` shows a field as the flag that set it."""
    problems = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "value"
        why = err["msg"].removeprefix("Value error, ")
        problems.append(f"{(names or {}).get(field, field)}: {why}")
    return "; ".join(problems)


POLICY_HELP = "operator policy TOML (default: $CDRWATCH_POLICY, else the bundled default.toml)"


def add_policy(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--policy", metavar="FILE", help=POLICY_HELP)


def checked_settings() -> Settings:
    """The CDRWATCH_* environment, or a UsageError naming the variable at fault (a secret's
    value never appears: pydantic's messages here carry no input)."""
    from pydantic import ValidationError

    from streams.security import unreadable_ca
    from streams.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        raise UsageError(f"environment CDRWATCH_*: {describe(exc)}") from exc
    problem = unreadable_ca(settings)
    if problem:
        raise UsageError(problem)
    return settings


def policy_path(flag: str | None) -> tuple[Path, str]:
    """--policy, else CDRWATCH_POLICY (as the worker reads it), else the bundled default; with
    the variable's name when it chose, for the error message."""
    if flag:
        return Path(flag), ""
    settings = checked_settings()
    return settings.policy, "CDRWATCH_POLICY" if "policy" in settings.model_fields_set else ""


def alert_privacy(policy: Policy) -> Callable[[Alert], Alert]:
    """What each alert goes through on its way out (streams/pseudonym.py), or a UsageError
    when the policy wants pseudonyms and no key is set: found before any work starts."""
    from streams.pseudonym import MissingPseudonymKey, outgoing

    try:
        return outgoing(policy, checked_settings().pseudonym_key)
    except MissingPseudonymKey as exc:
        raise UsageError(str(exc)) from exc


def incident_ids(policy: Policy) -> IncidentIds:
    """How verdicts and warnings name an incident: as its alert does (pseudonyms or not)."""
    from streams.pseudonym import MissingPseudonymKey, outgoing_ids

    try:
        return outgoing_ids(policy, checked_settings().pseudonym_key)
    except MissingPseudonymKey as exc:
        raise UsageError(str(exc)) from exc


def checked_baseline(path: str | None, policy: Policy, command: str
                     ) -> dict[tuple[str, str], bytes] | None:
    """The learned states of a baseline file (streams/detect/baseline.py) this policy can
    use, or a UsageError; what it leaves out is said on stderr."""
    if path is None:
        return None
    from streams.detect.baseline import BaselineError, read, seeds
    from streams.detect.families import build_families

    try:
        baseline = read(input_file(path, "--baseline"))
    except BaselineError as exc:
        raise UsageError(str(exc)) from exc
    found, notes = seeds(baseline, build_families(policy), policy.home_country)
    for note in notes:
        print(f"cdrwatch {command}: warning: baseline {path}: {note}", file=sys.stderr)
    return found


def load_checked_policy(flag: str | None) -> Policy:
    """The policy a command runs with, or a UsageError naming the file and the key."""
    from streams.policy import PolicyError, load_policy

    path, source = policy_path(flag)
    try:
        return load_policy(path)
    except PolicyError as exc:
        raise UsageError(f"{exc} (from {source})" if source else str(exc)) from exc
