"""The Faust app: built from settings, with its topics and the keyed-state table.

`faust -A streams.app worker` and `cdrwatch worker` both run it.
"""

from __future__ import annotations

import ssl

import faust

from streams import __version__
from streams.detect.engine import Engine
from streams.detect.families import SPOOF_RULES
from streams.metrics import Metrics
from streams.policy import load_policy, policy_hash
from streams.settings import Settings, get_settings


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


settings = get_settings()
policy = load_policy(settings.policy)
engine = Engine(policy)
metrics = Metrics()
metrics.prime(sorted(engine.families), sorted(SPOOF_RULES), sorted(engine.families))
metrics.info.info({"version": __version__, "policy_hash": policy_hash(policy)})
app = create_app(settings)



def _raw_topic(name: str) -> faust.TopicT:
    """Bytes in, bytes out: decoding is ours (orjson + pydantic), paid once per batch."""
    return app.topic(name, value_serializer="raw", key_serializer="raw",
                     partitions=settings.partitions, internal=True)


events_topic = _raw_topic(settings.events_topic)
keyed_topic = _raw_topic(settings.keyed_topic)
alerts_topic = _raw_topic(settings.alerts_topic)
dlq_topic = _raw_topic(settings.dlq_topic)
# family|key -> window state (JSON). Keyed like keyed_topic, so each worker holds its share.
state_table = app.Table(
    "keyed-state", key_type=str, partitions=settings.partitions,
)


@app.task
async def _serve_metrics() -> None:
    metrics.serve(settings.metrics_port, settings.metrics_host)


from streams.agents import health, ingest, keyed  # noqa: E402,F401  (registers the agents)


def main() -> None:
    app.main()
