"""Labelled traffic for an evaluation: from `cdrwatch generate` files, or generated in memory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from streams.evaluation.scoring import Campaign
from streams.events import CallEvent, parse_record
from streams.replay import read_messages
from streams.traffic import TrafficConfig, generate_traffic


@dataclass
class Labelled:
    """Events with their labels; campaigns None means: rebuild them from the labels."""

    events: list[CallEvent]
    labels: dict[str, dict[str, Any]]
    campaigns: list[Campaign] | None = None
    rejected: list[str] = field(default_factory=list)
    source: str = ""


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def fraud_campaigns(summaries: Iterable[dict[str, Any]]) -> list[Campaign]:
    """The summaries of fraud campaigns; traps (`fraud: false`) have no latency to score:
    their row in the report counts the false alarms on their calls instead."""
    return [campaign_of(s) for s in summaries if s.get("fraud", True)]


def campaign_of(summary: dict[str, Any]) -> Campaign:
    """One campaign summary as the generator writes it (start/end RFC 3339 or epoch)."""
    return Campaign(id=str(summary["id"]), scenario=str(summary["scenario"]),
                    start=_epoch(summary["start"]), end=_epoch(summary["end"]),
                    calls=int(summary.get("calls", 0)))


def _json_rows(path: Path) -> Iterator[dict[str, Any]]:
    """A JSON array or JSONL: the generator writes the first, the demo fixture the second."""
    raw = path.read_bytes()
    if raw.lstrip().startswith(b"["):
        yield from orjson.loads(raw)
        return
    for line in raw.splitlines():
        if line.strip():
            yield orjson.loads(line)


def beside(events: Path, suffix: str) -> Path | None:
    """`day.jsonl` -> `day.labels.jsonl` etc., the names `cdrwatch generate` uses."""
    stem = events.name.removesuffix(events.suffix)
    for end in (suffix, suffix + "l") if suffix.endswith(".json") else (suffix,):
        path = events.with_name(stem + end)
        if path.exists():
            return path
    return None


def load_files(events: Path, labels: Path | None = None,
               campaigns: Path | None = None) -> Labelled:
    """Events (JSONL or CSV) plus labels JSONL; both default to the generator's file names."""
    labels = labels or beside(events, ".labels.jsonl")
    if labels is None:
        raise FileNotFoundError(f"no labels for {events}; pass --labels")
    campaigns = campaigns or beside(events, ".campaigns.json")
    out = Labelled([], {}, source=str(events))
    for line in read_messages([events]):
        out.events.extend(line.events)
        out.rejected.extend(f"{line.source}:{line.line_no}: {b.reason}" for b in line.bad)
    out.labels = {str(row["record_id"]): row for row in _json_rows(labels)}
    if campaigns is not None:
        out.campaigns = fraud_campaigns(_json_rows(campaigns))
    return out


def generated(config: TrafficConfig) -> Labelled:
    """A labelled sample straight from the generator, no files."""
    traffic = generate_traffic(config)
    return Labelled(
        events=[parse_record(r) for r in traffic.records],
        labels={row["record_id"]: row for row in traffic.labels},
        campaigns=fraud_campaigns(traffic.campaigns),
        source=f"generated {config.home_region} {config.hours:g} h seed {config.seed}",
    )
