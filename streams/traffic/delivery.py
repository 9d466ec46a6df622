"""Trap: mediation that delivers some records twice and some late.

Kafka is at-least-once and mediation systems resend files, so the same record (same
`record_id`, same bytes) arrives again, at once or minutes later; a delayed file drop brings
records long after the generator's usual lateness bound. The calls are whatever traffic the
run holds; the trap changes only when, and how often, their records arrive. Their labels say
which (`duplicate`, `late_s`), so an evaluation can check that each call counted once and
that late records were reported late.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Delivery:
    """Per call, in the generator's call order."""

    twice: np.ndarray  # bool: a second copy of the record is sent
    resend_s: np.ndarray  # float: seconds from the first copy's arrival to the second's
    late_s: np.ndarray  # float: delay beyond the usual lateness bound; 0 = on time


def duplicates_late(rng: np.random.Generator, start: np.ndarray, t0: float, *,
                    hours: float | None = None, share: float = 0.02,
                    resent_later: float = 0.5, resend_max_s: float = 1800.0,
                    late_share: float = 0.005, late_min_s: float = 300.0,
                    late_max_s: float = 1800.0) -> Delivery:
    """`share` of the calls starting in [t0, t0 + hours) are sent twice, `resent_later` of
    those 1 min to `resend_max_s` after the first copy (a resent file), the rest within
    seconds; `late_share` others arrive `late_min_s`..`late_max_s` late (a delayed drop)."""
    n = len(start)
    inside = (start >= t0) & ((start < t0 + hours * 3600) if hours is not None else True)
    twice = inside & (rng.random(n) < share)
    later = rng.random(n) < resent_later
    resend = np.where(later, rng.uniform(60.0, max(resend_max_s, 60.0), n),
                      rng.uniform(0.0, 5.0, n))
    late = inside & ~twice & (rng.random(n) < late_share)
    delay = rng.uniform(late_min_s, max(late_max_s, late_min_s), n)
    return Delivery(twice=twice, resend_s=np.where(twice, np.round(resend, 3), 0.0),
                    late_s=np.where(late, np.round(delay, 3), 0.0))


def sent(arrival: np.ndarray, delivery: Delivery | None) -> tuple[np.ndarray, np.ndarray]:
    """(call index of every record sent, its arrival time): each call once, plus the copies."""
    calls = np.arange(len(arrival))
    if delivery is None:
        return calls, arrival
    first = arrival + delivery.late_s
    again = calls[delivery.twice]
    return (np.concatenate([calls, again]),
            np.concatenate([first, first[again] + delivery.resend_s[again]]))
