"""The Faust application settings of a cdrwatch worker, apart from what it runs, so that the
benchmark's counting agent runs with exactly the same ones."""

from __future__ import annotations

import ssl

import faust

from streams.settings import Settings


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


def create_app(settings: Settings) -> faust.App:
    return faust.App(
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
