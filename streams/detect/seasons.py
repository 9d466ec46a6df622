"""Where a window falls in the operator's local day and week: DST-safe via zoneinfo."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

HOURS_IN_WEEK = 7 * 24


@lru_cache(maxsize=65536)
def local_slot(ws: int, timezone: str) -> tuple[int, int]:
    """(local hour of day, local hour of the week from Monday 00h) of the instant `ws`.

    The local wall clock, not a fixed offset: across a DST change the same hour of the
    operator's day keeps its slot, so a daily profile does not shift by an hour. In the
    repeated autumn hour both occurrences share their slot; the skipped spring hour is empty.
    """
    if timezone == "UTC":  # today's arithmetic, exact and without a zone lookup
        hour = ws // 3600
        return hour % 24, (hour + 3 * 24) % HOURS_IN_WEEK  # 1970-01-01 was a Thursday
    local = datetime.fromtimestamp(ws, ZoneInfo(timezone))
    return local.hour, local.weekday() * 24 + local.hour
