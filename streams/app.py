"""The Faust app: built from settings, with its topics and the keyed-state table.

`faust -A streams.app worker` and `cdrwatch worker` both run it.
"""

from __future__ import annotations

import faust
from prometheus_client import disable_created_metrics

from streams import __version__
from streams.detect.engine import Engine
from streams.detect.families import SPOOF_RULES
from streams.faust_config import create_app
from streams.metrics import Metrics
from streams.policy import load_policy, policy_hash
from streams.settings import get_settings

settings = get_settings()
policy = load_policy(settings.policy)
engine = Engine(policy)
# No `_created` twin per counter child: half the exposition text for a value Prometheus
# does not use; the worker answers each scrape twice as fast while it carries traffic.
disable_created_metrics()
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
