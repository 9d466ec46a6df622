"""The Faust application settings of a cdrwatch worker, apart from what it runs, so that the
benchmark's counting agent runs with exactly the same ones."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, Message, TransportT

from streams.security import ssl_context
from streams.settings import Settings


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust builds its aiokafka consumer with `fetch_max_wait_ms=1500` hard-coded: a broker
    that holds a fetch until it expires when one partition is empty (Tansu does) then adds
    1.5 s per topic hop to every alert. The consumer reads the attribute only when it starts.
    """

    def _create_worker_consumer(self, transport: TransportT) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = cast(CdrwatchApp, self.app).fetch_max_wait_ms
        return consumer

    async def _highwaters(self, partitions: list[TP]) -> Mapping[TP, int]:
        """The ends a table's recovery reads its changelog up to, read, not only reported.
        Other ends (the consumer-lag gauge asks every 5 s) stay as reported."""
        reported = await super()._highwaters(partitions)
        changelogs = self.app.tables.changelog_topics
        todo = {tp: end for tp, end in reported.items() if tp.topic in changelogs}
        if not todo:
            return reported
        ends = await read_ends(self._create_client_consumer(self.transport), todo)
        return {**reported, **ends}


async def read_ends(consumer: aiokafka.AIOKafkaConsumer, reported: Mapping[TP, int],
                    settle_ms: int = 200, limit_s: float = 10.0) -> dict[TP, int]:
    """Each partition's end offset, read from the record before its reported end onwards.

    Tansu (the embedded broker) reports a partition's end as the base offset of its last
    record batch plus one, not its last offset plus one: after a producer sent several
    changelog writes in one batch, Faust's recovery stopped short of them and a restarted
    worker started those keys afresh (test_recovery.py lost a restored key in one run of
    two). Kafka reports the true end, and this reads the same one there.
    """
    ends = dict(reported)
    todo = {tp: end for tp, end in reported.items() if end > 0}
    try:
        if todo:
            await _read_to_end(consumer, todo, ends, settle_ms, limit_s)
    finally:
        await consumer.stop()
    return ends


async def _read_to_end(consumer: aiokafka.AIOKafkaConsumer, todo: dict[TP, int],
                       ends: dict[TP, int], settle_ms: int, limit_s: float) -> None:
    await consumer.start()
    kafka = {tp: aiokafka.TopicPartition(tp.topic, tp.partition) for tp in todo}
    consumer.assign(list(kafka.values()))
    for tp, end in todo.items():
        consumer.seek(kafka[tp], end - 1)
    deadline = time.monotonic() + limit_s
    unread = set(todo)  # no fetch has answered for these yet: an empty poll proves nothing
    while time.monotonic() < deadline:
        got = await consumer.getmany(timeout_ms=settle_ms)
        for ktp, records in got.items():
            tp = TP(ktp.topic, ktp.partition)
            ends[tp] = max(ends[tp], records[-1].offset + 1)
        unread = {tp for tp in unread if consumer.highwater(kafka[tp]) is None}
        if not got and not unread:
            break  # nothing more after what was read: each partition's end is known


class _Consumer(faust_aiokafka.Consumer):
    """Faust acks, and so commits, every message its streams let go of, also those no agent
    handled: the ones a stream skips once a stop or a rebalance has suspended flow control,
    and a batch whose agent a SIGTERM cancelled halfway. On the app's `guarded` topics, a
    message is acked only once an agent said its work was delivered (`handled`), which may
    come after the stream let go of it (a keyed message is handled once the write round
    that carries its state has reached the changelog); any other stays uncommitted, and its
    partition's next reader reads it again.

    Faust also commits the first run of acked offsets even when a message before it was
    not acked: any run while a partition has no commit yet, and one past a single missing
    offset after that. A keyed partition then committed past messages whose state was
    still on its way to the changelog, and a SIGKILL in between lost their calls (53 calls
    of a campaign's window in one CI run of test_sigkill_and_restart_mid_stream). On
    guarded topics a commit starts where the last one ended, or at the first message read.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._handled: set[tuple[TP, int]] = set()  # handled before the stream let go
        self._refused: set[tuple[TP, int]] = set()  # let go of before they were handled
        self._start: dict[TP, int] = {}  # lowest offset let go of, where nothing is committed
        self._unseeked: set[TP] | None = None

    def pause_partitions(self, tps: Iterable[TP]) -> None:
        """A rebalance pauses every partition; they must not be fetched again before their
        seek to the committed offset (see resume_partitions)."""
        tps = set(tps)
        if any(tp.topic in cast(CdrwatchApp, self.app).guarded for tp in tps):
            self._unseeked = set()
        super().pause_partitions(tps)

    def resume_partitions(self, tps: Iterable[TP]) -> None:
        """Faust resumes the stream partitions and only then seeks them to their committed
        offsets: what the fetcher hands the agents in between, and what it read ahead, is
        dropped after the seek, and those offsets were never handled (measured: keyed
        messages 11-15 of a restarted worker never reached its agent). Guarded partitions
        resume only once the seek has landed."""
        tps = set(tps)
        if self._unseeked is not None:
            held = {tp for tp in tps if tp.topic in cast(CdrwatchApp, self.app).guarded}
            self._unseeked |= held
            tps -= held
        super().resume_partitions(tps)

    async def perform_seek(self) -> None:
        """Faust also seeks when it fetches while a rebalance stops the flow, before the
        partitions were resumed: only a seek after the held resume releases them."""
        await super().perform_seek()
        self._start.clear()
        if self._unseeked:
            held, self._unseeked = self._unseeked, None
            super().resume_partitions(held)

    def handled(self, message: Message) -> None:
        done = (message.tp, message.offset)
        if done in self._refused:
            self._refused.discard(done)
            super().ack(message)
        else:
            self._handled.add(done)

    def ack(self, message: Message) -> bool:
        if message.topic in cast(CdrwatchApp, self.app).guarded:
            tp = message.tp
            if self._committed_offset[tp] is None:
                self._start[tp] = min(message.offset, self._start.get(tp, message.offset))
            done = (tp, message.offset)
            if done not in self._handled:
                self._unacked_messages.discard(message)  # a rebalance must not wait for it
                self._refused.add(done)
                return False
            self._handled.discard(done)
        return super().ack(message)

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if acked and tp.topic in cast(CdrwatchApp, self.app).guarded:
            start = self._committed_offset[tp]
            start = self._start.get(tp) if start is None else start
            if start is None or not self._reaches(tp, start, min(acked)):
                return None  # the message at `start` is not acked yet
        return super()._new_offset(tp)

    def _reaches(self, tp: TP, start: int, head: int) -> bool:
        """The first acked offset follows `start` with nothing but Faust's gaps (offsets the
        broker never delivered, such as compacted ones) between them."""
        if head <= start:
            return True
        gaps = self._gap[tp].copy()
        gaps.merge_overlaps(strict=False)
        return any(gap.begin <= start and gap.end >= head for gap in gaps)

    async def _add_gap(self, tp: TP, offset_from: int, offset_to: int) -> None:
        """Faust takes a jump in a partition's offsets for a hole the broker made (markers,
        compaction) and lets commits pass it; on a topic only cdrwatch writes there is no
        such hole, only messages Faust dropped (streams/agents/continuity.py reads them
        again), and a commit must wait for them."""
        if tp.topic not in cast(CdrwatchApp, self.app).contiguous:
            await super()._add_gap(tp, offset_from, offset_to)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class CdrwatchApp(faust.App):
    fetch_max_wait_ms = 1500  # Faust's own value, until create_app sets the configured one
    guarded: frozenset[str] = frozenset()  # topics whose messages agents mark handled
    contiguous: frozenset[str] = frozenset()  # topics written only by cdrwatch

    def _new_transport(self) -> TransportT:
        transport = super()._new_transport()
        if isinstance(transport, faust_aiokafka.Transport):
            transport.Consumer = _Consumer
        return transport


def _credentials(settings: Settings) -> faust.auth.Credentials | None:
    """The worker's side of streams/security.py: the same TLS context, as Faust wants it."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return None
    context = ssl_context(settings)
    if proto == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=context,
    )


def create_app(settings: Settings) -> CdrwatchApp:
    app = CdrwatchApp(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        broker_rebalance_timeout=settings.rebalance_timeout_s,
        broker_session_timeout=settings.rebalance_timeout_s,
        broker_heartbeat_interval=1,
        producer_linger=settings.producer_linger_ms / 1000,
        consumer_auto_offset_reset="earliest",
        # The store is in memory, so it never outlives the changelog; and Tansu's reported
        # end of a changelog partition could lag what a standby had already read (CI:
        # 256 > 235: the understated end read_ends corrects), which crashed the check.
        recovery_consistency_check=False,
        web_enabled=False,
        table_cleanup_interval=60,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


def raw_topic(app: faust.App, name: str, partitions: int,
              compacting: bool | None = None) -> faust.TopicT:
    """Bytes in, bytes out: decoding is ours (orjson + pydantic), paid once per batch.
    `compacting`: created with cleanup.policy=compact (a topic whose last value per key is
    the state)."""
    return app.topic(name, value_serializer="raw", key_serializer="raw",
                     partitions=partitions, internal=True, compacting=compacting)
