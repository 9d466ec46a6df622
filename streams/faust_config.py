"""The Faust application settings of a cdrwatch worker, apart from what it runs, so that the
benchmark's counting agent runs with exactly the same ones."""

from __future__ import annotations

import ssl
from typing import cast

import aiokafka
import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TransportT

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


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class CdrwatchApp(faust.App):
    fetch_max_wait_ms = 1500  # Faust's own value, until create_app sets the configured one

    def _new_transport(self) -> TransportT:
        transport = super()._new_transport()
        if isinstance(transport, faust_aiokafka.Transport):
            transport.Consumer = _Consumer
        return transport


def _credentials(settings: Settings) -> faust.auth.Credentials | None:
    proto = settings.security_protocol.upper()
    if proto == "PLAINTEXT":
        return None
    context = ssl.create_default_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None
    )
    if proto == "SSL":
        return faust.SSLCredentials(context)
    password = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    return faust.SASLCredentials(
        username=settings.sasl_username,
        password=password,
        mechanism=settings.sasl_mechanism,
        ssl_context=context if proto == "SASL_SSL" else None,
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
        web_enabled=False,
        table_cleanup_interval=60,
    )
    app.fetch_max_wait_ms = settings.fetch_max_wait_ms
    return app


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """Bytes in, bytes out: decoding is ours (orjson + pydantic), paid once per batch."""
    return app.topic(name, value_serializer="raw", key_serializer="raw",
                     partitions=partitions, internal=True)
