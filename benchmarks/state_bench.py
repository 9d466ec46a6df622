"""Keyed state at scale: one million distinct caller IDs through one worker, then a restart.

Prints the worker's RSS and the bytes of its state (the changelog's latest value per key)
once every call is folded, and how long a restarted worker (same app id, empty local
state) takes from its start to holding every key again. Calls are foreign mobile callers,
each used once, to distinct subscribers, spread over `--span-s` of event time and never
closed by an end-of-data watermark: every key they create is still held at the end, the
worst case for memory and recovery. The last line printed is one JSON object.

    python benchmarks/state_bench.py --callers 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench import (  # noqa: E402  (a script beside bench.py, sharing its helpers)
    Proc,
    batched,
    bench_env,
    fresh_broker,
    keyed_drained,
    log,
    metrics_text,
    preproduce,
    proc_status,
    run,
    run_names,
)

from streams.broker import ensure_topics  # noqa: E402

KEYS_METRIC = re.compile(rb'^cdrwatch_table_keys\{table="keyed-state"\} (\S+)$', re.MULTILINE)
EVENTS_METRIC = re.compile(rb"^cdrwatch_events_consumed_total (\S+)$", re.MULTILINE)
# Foreign mobile blocks a ring rotates through (UK, Philippines, Tunisia, Vietnam).
BLOCKS = ["+4474", "+63917", "+21650", "+8490"]
NSN_DIGITS = {"+4474": 8, "+63917": 7, "+21650": 6, "+8490": 7}


def records(n: int, span_s: float, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    out = []
    for i in range(n):
        block = BLOCKS[i % len(BLOCKS)]
        digits = NSN_DIGITS[block]
        caller = f"{block}{i // len(BLOCKS):0{digits}d}"
        at = start + timedelta(seconds=span_s * i / n)
        out.append(orjson.dumps({
            "record_id": f"s-{i}", "start_time": at.isoformat().replace("+00:00", "Z"),
            "duration_s": 0.0, "answered": False, "calling_number": caller,
            "called_number": f"+39333{rng.randrange(10**7):07d}",
            "ingress_trunk": "INTL-BICS-1",
        }))
    return out


def scrape(port: int) -> tuple[float, float]:
    """(durable keys held, events consumed), from the worker's /metrics."""
    body = metrics_text(port, timeout_s=5.0)
    keys, events = KEYS_METRIC.search(body), EVENTS_METRIC.search(body)
    return (float(keys.group(1)) if keys else 0.0), (float(events.group(1)) if events else 0.0)


async def changelog_bytes(bootstrap: str, topic: str, partitions: int) -> tuple[int, int]:
    """(keys, bytes of their latest values): what a restarted worker must read back."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20)
    await consumer.start()
    latest: dict[bytes, int] = {}
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            for batch in (await consumer.getmany(timeout_ms=1000, max_records=10000)).values():
                for record in batch:
                    if record.value is None:
                        latest.pop(record.key, None)
                    else:
                        latest[record.key] = len(record.value)
    finally:
        await consumer.stop()
    return len(latest), sum(latest.values())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--callers", type=int, default=1_000_000)
    p.add_argument("--span-s", type=float, default=600.0, help="event time the calls span")
    p.add_argument("--batch", type=int, default=100, help="records per array message")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--timeout-s", type=float, default=3600.0)
    p.add_argument("--workdir", type=Path)
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cdrwatch-state-"))
    workdir.mkdir(parents=True, exist_ok=True)
    values = batched(records(args.callers, args.span_s, 7), args.batch)
    log(f"{args.callers:,} distinct callers in {len(values):,} messages; logs in {workdir}")
    with fresh_broker(workdir, "state") as broker:
        tag = uuid.uuid4().hex[:8]
        names = run_names(f"events-state-{tag}", tag)
        ensure_topics(broker.bootstrap, [names["alerts"], names["dlq"], names["keyed"]],
                      args.partitions)
        preproduce(broker, names["events"], values, args.partitions)
        app_id = f"cdrwatch-{tag}"
        env = bench_env(broker, names, app_id, workdir, args.partitions)
        port = int(env["CDRWATCH_METRICS_PORT"])
        deadline = time.monotonic() + args.timeout_s
        first = Proc([sys.executable, "-m", "streams", "worker"], env, workdir / "worker-0.log")
        try:
            first.start()
            started = time.perf_counter()
            while scrape(port)[1] < args.callers:
                if time.monotonic() > deadline:
                    raise TimeoutError("the worker did not consume every call in time")
                time.sleep(1.0)
            while not run(keyed_drained(broker.bootstrap, app_id, names["keyed"],
                                        args.partitions)):
                time.sleep(1.0)
            fold_s = time.perf_counter() - started
            time.sleep(3.0)  # the upkeep timer's gauges
            keys, _ = scrape(port)
            rss = proc_status(first.popen.pid, "VmRSS") if first.popen else 0.0
            hwm = first.peak_rss_mb()
        finally:
            first.stop()
        log(f"folded in {fold_s:.0f} s: {keys:,.0f} keys held, RSS {rss:,.0f} MB "
            f"(peak {hwm:,.0f})")
        changelog = f"{app_id}-keyed-state-changelog"
        stored_keys, stored_bytes = run(changelog_bytes(broker.bootstrap, changelog,
                                                        args.partitions))
        log(f"changelog: {stored_keys:,} keys, {stored_bytes / 1e6:,.1f} MB")
        second = Proc([sys.executable, "-m", "streams", "worker"], env,
                      workdir / "worker-1.log")
        try:
            t0 = time.perf_counter()
            second.start(ready_timeout_s=deadline - time.monotonic())  # after its recovery
            ready_s = time.perf_counter() - t0
            while scrape(port)[0] < keys:
                if time.monotonic() > deadline:
                    raise TimeoutError("the restarted worker did not adopt every key in time")
                time.sleep(0.5)
            recover_s = time.perf_counter() - t0
            rss2 = proc_status(second.popen.pid, "VmRSS") if second.popen else 0.0
        finally:
            second.stop()
    log(f"restart: ready in {ready_s:.1f} s, every key adopted in {recover_s:.1f} s, "
        f"RSS {rss2:,.0f} MB")
    print(json.dumps({
        "callers": args.callers, "span_s": args.span_s, "fold_seconds": round(fold_s, 1),
        "keys_held": keys, "worker_rss_mb": rss, "worker_peak_rss_mb": hwm,
        "changelog_keys": stored_keys, "state_bytes": stored_bytes,
        "restart_ready_seconds": round(ready_s, 1),
        "restart_recovered_seconds": round(recover_s, 1), "restarted_rss_mb": rss2,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
