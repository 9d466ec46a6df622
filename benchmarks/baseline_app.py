"""Faust's floor cost: an agent that only decodes (orjson) and counts, on the worker's settings.

`benchmarks/bench.py` runs it as `python benchmarks/baseline_app.py`. It reads the same
CDRWATCH_* environment as the worker (broker, app id, topics, partitions, batch size, producer
linger, log level) plus BENCH_EXPECT, the number of CDRs (array items count) to wait for. Once
that many are counted it logs one line `BENCH_DONE {json}` with the first-to-last timing.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import orjson

from streams.faust_config import create_app, raw_topic
from streams.runtime import run_worker
from streams.settings import Settings

settings = Settings()


@dataclass
class Tally:
    """What the counting agent has seen, with wall-clock (time.time) stamps."""

    events: int = 0
    messages: int = 0
    first: float | None = None
    last: float | None = None
    expect: int = int(os.environ.get("BENCH_EXPECT", "0"))
    reported: bool = False


tally = Tally()

app = create_app(settings)  # the worker's own Faust settings
events_topic = raw_topic(app, settings.events_topic, settings.partitions)


def _report() -> None:
    assert tally.first is not None and tally.last is not None
    span = max(tally.last - tally.first, 1e-9)
    payload = {**asdict(tally), "seconds": span, "events_per_s": tally.events / span}
    print("BENCH_DONE " + orjson.dumps(payload).decode(), flush=True)
    tally.reported = True


@app.agent(events_topic)
async def count(stream):  # type: ignore[no-untyped-def]
    """Decode each message and count its CDRs; nothing else."""
    async for batch in stream.take_events(settings.batch_size, within=settings.batch_within_s):
        if tally.first is None:
            tally.first = time.time()
        for event in batch:
            doc = orjson.loads(event.value or b"null")
            tally.events += len(doc) if isinstance(doc, list) else 1
        tally.messages += len(batch)
        tally.last = time.time()
        if tally.expect and not tally.reported and tally.events >= tally.expect:
            _report()


def main() -> None:
    run_worker(app, settings.log_level)  # as `cdrwatch worker` starts


if __name__ == "__main__":
    main()
