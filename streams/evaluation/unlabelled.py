"""A recorded file without labels: incidents per day, per detector and per key.

What an operator reads before trusting the detectors on its own traffic: how many incidents
a day each detector raises, and whether a handful of keys (a trunk's background, one
legitimate call centre) make most of them. Days are the operator's (the policy's
`timezone`), dated, so a week reads as a week.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from streams.detect.engine import OfflineResult
from streams.events import Alert
from streams.policy import Policy

SEVERITY = ("info", "low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Incident:
    """Every alert line of one `alert_id`: its worst severity and how it ended."""

    alert_id: str
    detector: str
    key: str
    day: date  # the operator's date of the incident's first window
    severity: str
    resolved: bool
    lines: int


@dataclass
class Unlabelled:
    source: str
    timezone: str
    calls: int
    late: int
    incidents: list[Incident] = field(default_factory=list)
    rejected: int = 0

    @property
    def days(self) -> list[date]:
        return sorted({i.day for i in self.incidents})

    def per_day(self) -> dict[date, Counter[str]]:
        """Incidents by day, then by detector."""
        out: dict[date, Counter[str]] = {}
        for i in self.incidents:
            out.setdefault(i.day, Counter())[i.detector] += 1
        return dict(sorted(out.items()))

    def per_key(self) -> Counter[tuple[str, str]]:
        return Counter((i.detector, i.key) for i in self.incidents)


def incidents(alerts: Iterable[Alert], timezone: str) -> list[Incident]:
    """One incident per `alert_id`, in the order each first appeared."""
    zone = ZoneInfo(timezone)
    lines: dict[str, list[Alert]] = {}
    for alert in alerts:
        lines.setdefault(alert.alert_id, []).append(alert)
    out = []
    for alert_id, group in lines.items():
        first = group[0]
        worst = max((a.severity for a in group if a.status != "resolved"),
                    key=SEVERITY.index, default=first.severity)
        out.append(Incident(alert_id, first.detector, first.key,
                            first.window_start.astimezone(zone).date(), worst,
                            group[-1].status == "resolved", len(group)))
    return out


def summarise(result: OfflineResult, policy: Policy, source: str = "",
              rejected: int = 0) -> Unlabelled:
    """An offline run (`detect_files`, `run_offline`) read as incidents per day and key."""
    return Unlabelled(source, policy.timezone, result.events, result.late,
                      incidents(result.alerts, policy.timezone), rejected)


def to_json(rep: Unlabelled, top: int = 20) -> dict[str, Any]:
    return {
        "source": rep.source,
        "labelled": False,
        "timezone": rep.timezone,
        "calls": rep.calls,
        "late": rep.late,
        "rejected": rep.rejected,
        "incidents": len(rep.incidents),
        "days": [d.isoformat() for d in rep.days],
        "per_day": {d.isoformat(): dict(c) for d, c in rep.per_day().items()},
        "top_keys": [{"detector": d, "key": k, "incidents": n}
                     for (d, k), n in rep.per_key().most_common(top)],
        "by_severity": dict(Counter(i.severity for i in rep.incidents)),
    }
