"""A table's recovery reads its changelog to the true end, whatever the broker reports."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.types import TP

from streams.broker import ensure_topics
from streams.faust_config import read_ends

pytestmark = pytest.mark.integration


def test_the_end_of_a_partition_is_its_last_record_not_its_last_batch(broker) -> None:
    topic = f"ends-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [topic], 2)

    async def scenario() -> tuple[dict[TP, int], dict[TP, int]]:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=50)
        await producer.start()
        try:
            for size in (10, 3):  # two record batches, as a producer's linger makes them
                sent = [await producer.send(topic, b"v", key=b"k%d" % i, partition=0)
                        for i in range(size)]
                await asyncio.gather(*sent)
        finally:
            await producer.stop()
        probe = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await probe.start()
        try:
            tps = [TopicPartition(topic, p) for p in (0, 1)]
            reported = {TP(tp.topic, tp.partition): end
                        for tp, end in (await probe.end_offsets(tps)).items()}
        finally:
            await probe.stop()
        return reported, await read_ends(AIOKafkaConsumer(bootstrap_servers=broker.bootstrap),
                                         reported)

    reported, ends = asyncio.run(scenario())
    assert ends == {TP(topic, 0): 13, TP(topic, 1): 0}
    # Tansu reports the last batch's base offset plus one: the case read_ends exists for
    assert reported[TP(topic, 0)] in (11, 13)
