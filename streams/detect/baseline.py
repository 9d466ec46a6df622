"""Warm start: what each key learned from recorded traffic, for a worker or `detect` to start from.

A new deployment otherwise learns from zero: for its first days every range and country is
judged against the family's prior. A baseline holds, for each key of a learning family (the
bursts and the ramp), its learned state as a recording left it once every window closed:
level, dispersion moments, hour-of-day and hour-of-week profiles and the snapshots that
thresholds read, without open windows, incidents or source positions (those belong to the
recording's run, not to the next one). A key takes its baseline when it first calls and
holds no state of its own; a silent gap since the recording is decayed in closed form as
any silence is. A family learned with another window size is not used.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import msgspec

from streams.detect.state import KeyState, dump_state, load_state
from streams.detect.windowed import Family

FK = tuple[str, str]
FORMAT = "cdrwatch-baseline"
VERSION = 1


class BaselineError(ValueError):
    """A file that is not a baseline this version can use."""


class Baseline(msgspec.Struct, kw_only=True):
    format: str = FORMAT
    version: int = VERSION
    home_country: str
    until: float  # the recording's last call, event time
    windows: dict[str, int]  # family -> window size it learned with, seconds
    states: list[tuple[str, str, bytes]]  # (family, key, KeyState as MessagePack)


def learned(state: KeyState) -> KeyState:
    """What of a key's state the next run may start from."""
    return msgspec.structs.replace(state, windows={}, closed=None, inc=None, inc_last=None,
                                   hwm={})


def build(states: Iterable[tuple[FK, KeyState]], families: dict[str, Family],
          home_country: str, until: float) -> Baseline:
    kept = [(f, k, dump_state(learned(s))) for (f, k), s in states
            if f in families and families[f].learns]
    return Baseline(home_country=home_country, until=until, states=kept,
                    windows={f: fam.window_s for f, fam in families.items() if fam.learns})


def write(baseline: Baseline, path: Path) -> None:
    path.write_bytes(msgspec.msgpack.encode(baseline))


def read(path: Path) -> Baseline:
    try:
        baseline = msgspec.msgpack.decode(path.read_bytes(), type=Baseline)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BaselineError(f"{path} is not a cdrwatch baseline ({exc})") from None
    if baseline.format != FORMAT or baseline.version != VERSION:
        raise BaselineError(f"{path} is a {baseline.format} version {baseline.version} file; "
                            f"this cdrwatch reads {FORMAT} version {VERSION}")
    for _, _, raw in baseline.states[:1]:
        try:
            load_state(raw)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BaselineError(f"{path}: a key's state does not load ({exc})") from None
    return baseline


def seeds(baseline: Baseline, families: dict[str, Family], home_country: str
          ) -> tuple[dict[FK, bytes], list[str]]:
    """The states this policy can start from, and why any family's were left out."""
    notes = []
    if baseline.home_country.upper() != home_country.upper():
        return {}, [f"the baseline was learned for {baseline.home_country}, the policy is "
                    f"for {home_country}: not used"]
    usable = set()
    for family, window in sorted(baseline.windows.items()):
        fam = families.get(family)
        if fam is None or not fam.learns:
            notes.append(f"{family}: not run by this policy")
        elif fam.window_s != window:
            notes.append(f"{family}: learned with {window} s windows, the policy has "
                         f"{fam.window_s} s: not used")
        else:
            usable.add(family)
    return {(f, k): raw for f, k, raw in baseline.states if f in usable}, notes
