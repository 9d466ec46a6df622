"""CPU time per call of the worker's own path, without Kafka or Faust.

The steps a worker runs for a take() batch of micro-batched messages, in one process: decode,
per-call rules and routing, pack into keyed messages, unpack, fold each key, sweep by the
watermark, and serialise the changed keys for the changelog. Measured in process CPU time,
so a busy machine disturbs it less than it does the broker benchmarks (bench.py); use it
to compare two versions of the hot path, not as a throughput figure. The last line printed
is one JSON object.

    python benchmarks/hot_path.py --records 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import batched, make_records  # noqa: E402  (beside bench.py)

from streams.agents.routing import pack, unpack  # noqa: E402
from streams.detect.engine import Engine  # noqa: E402
from streams.detect.keyed import KeyedStates  # noqa: E402
from streams.events import TimeBounds, decode_message  # noqa: E402
from streams.numbering import classify  # noqa: E402
from streams.policy import load_policy  # noqa: E402
from streams.runtime import tune_gc  # noqa: E402
from streams.settings import DEFAULT_POLICY  # noqa: E402

STEPS = ("decode", "route", "pack", "unpack", "fold", "sweep", "drain")


def one_run(messages: list[bytes], per_take: int, partitions: int) -> dict[str, float]:
    """CPU seconds per step over every message, fresh state and number cache."""
    classify.cache_clear()
    policy = load_policy(DEFAULT_POLICY)
    engine = Engine(policy)
    states = KeyedStates(engine.families, policy.stream.baseline_ttl_s)
    bounds = TimeBounds(0.0, float("inf"))
    spent = dict.fromkeys(STEPS, 0.0)
    clock = time.process_time
    latest: float | None = None
    for start in range(0, len(messages), per_take):
        t0 = clock()
        decoded = [decode_message(v, bounds) for v in messages[start:start + per_take]]
        t1 = clock()
        routed = []
        for offset, d in enumerate(decoded):
            for i, event in enumerate(d.events):
                routing = engine.route(event, offset % partitions, (start + offset) << 20 | i)
                routed.extend(routing.routed)
                latest = routing.call.ts if latest is None else max(latest, routing.call.ts)
        t2 = clock()
        marks = {p: (latest, False) for p in range(partitions)}
        packed = pack(routed, partitions, marks, partitions)
        t3 = clock()
        keyed = [(p, unpack(v)) for p, v in packed]
        t4 = clock()
        for p, k in keyed:
            for (family, key), items in k.groups.items():
                states.fold(family, key, items, latest, p)
        t5 = clock()
        for p in range(partitions):
            states.sweep(p, latest or 0.0)
        t6 = clock()
        states.drain()
        t7 = clock()
        for step, dt in zip(STEPS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5,
                                    t7 - t6), strict=True):
            spent[step] += dt
    return spent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=100, help="records per message")
    p.add_argument("--take", type=int, default=50, help="messages per take() batch")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    tune_gc()  # the worker's collector settings
    records = make_records(args.records, args.seed)
    values = [orjson.dumps(r) for r in records]
    messages = batched(values, args.batch) if args.batch > 1 else values
    runs = [one_run(messages, args.take, args.partitions) for _ in range(args.runs)]
    us = {s: statistics.median(r[s] for r in runs) / len(records) * 1e6 for s in STEPS}
    total = statistics.median(sum(r.values()) for r in runs) / len(records) * 1e6
    for s in STEPS:
        print(f"{s:8s} {us[s]:8.1f} µs/call")
    print(f"{'total':8s} {total:8.1f} µs/call  ({1e6 / total:,.0f} calls/s of CPU)")
    print(json.dumps({"records": len(records), "us_per_call": us, "total_us_per_call": total,
                      "calls_per_cpu_s": 1e6 / total}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
