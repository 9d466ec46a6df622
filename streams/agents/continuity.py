"""A watch on offsets that never reach an agent.

Offsets of the keyed topic (written only by cdrwatch) come one by one; a jump means Faust
dropped messages before the agent (it did, at start-up, until streams/faust_config.py held
the stream partitions back until their seek). Such a hole is logged and counted, and the
commit does not pass it (`contiguous` topics get no Faust gap), so the partition's next
reader reads it again.
"""

from __future__ import annotations

import logging
from typing import Any

from faust.types import TP

from streams.app import app, metrics

log = logging.getLogger(__name__)
_next: dict[TP, int] = {}


def watch(event: Any) -> None:
    msg = event.message
    want = _next.get(msg.tp)
    if want is not None and msg.offset > want:
        metrics.holes.inc()
        log.warning("%s:%d: offsets %d to %d never reached the agent; they are not committed "
                    "and the next reader reads them", msg.topic, msg.partition, want,
                    msg.offset - 1)
    _next[msg.tp] = msg.offset + 1


@app.on_partitions_assigned.connect
async def _assigned(app_: Any, assigned: set[TP], **_: Any) -> None:
    """After a rebalance a partition is read again from its committed offset."""
    _next.clear()
