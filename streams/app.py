"""The Faust app: built from settings, with its topics and the keyed-state table.

`faust -A streams.app worker` and `cdrwatch worker` both run it.
"""

from __future__ import annotations

from prometheus_client import disable_created_metrics

from streams import __version__
from streams.detect.engine import Engine
from streams.detect.families import SPOOF_RULES
from streams.faust_config import create_app, raw_topic
from streams.metrics import Metrics
from streams.policy import load_policy, policy_hash
from streams.probes import Probes, serve
from streams.pseudonym import outgoing, outgoing_ids
from streams.settings import get_settings

settings = get_settings()
policy = load_policy(settings.policy)
# Every alert goes through this on its way out (streams/pseudonym.py); `cdrwatch worker` has
# refused a policy that wants pseudonyms without a key before this module is imported.
privacy = outgoing(policy, settings.pseudonym_key)
incident_ids = outgoing_ids(policy, settings.pseudonym_key)  # how verdicts name incidents
engine = Engine(policy)
# No `_created` twin per counter child: half the exposition text for a value Prometheus
# does not use; the worker answers each scrape twice as fast while it carries traffic.
disable_created_metrics()
metrics = Metrics()
metrics.prime(sorted(engine.families), sorted(SPOOF_RULES), sorted(engine.families))
metrics.info.info({"version": __version__, "policy_hash": policy_hash(policy)})
app = create_app(settings)


events_topic = raw_topic(app, settings.events_topic, settings.partitions)
keyed_topic = raw_topic(app, settings.keyed_topic, settings.partitions)
alerts_topic = raw_topic(app, settings.alerts_topic, settings.partitions)
dlq_topic = raw_topic(app, settings.dlq_topic, settings.partitions)
verdicts_topic = raw_topic(app, settings.verdicts_topic, settings.partitions)
warnings_topic = raw_topic(app, settings.warnings_topic, settings.partitions)
feedback_topic = raw_topic(app, settings.feedback_topic, settings.partitions)
warn_topic = raw_topic(app, settings.warn_topic, settings.partitions)
hotlist_topic = raw_topic(app, settings.hotlist_topic, settings.partitions, compacting=True)
app.guarded = frozenset({settings.events_topic, settings.keyed_topic, settings.warn_topic})
app.contiguous = frozenset({settings.keyed_topic, settings.warn_topic})
# family|key -> KeyState (MessagePack, streams/detect/state.py). Keyed like keyed_topic, so
# each worker holds its share; the agent keeps the live states and writes changes here.
state_table = app.Table(
    "keyed-state", key_type=str, value_type=bytes, partitions=settings.partitions,
)


# subscriber -> Book (MessagePack, streams/warnings.py), on the partition of warn_topic the
# subscriber's verdicts are sent to
warned_table = app.Table("warned", key_type=str, value_type=bytes, partitions=settings.partitions)


probes = Probes()


@app.task
async def _serve_metrics() -> None:
    serve(probes, metrics.registry, settings.metrics_port, settings.metrics_host)


from streams.agents import (  # noqa: E402,F401  (registers the agents)
    health,
    hotlist,
    ingest,
    keyed,
    warnings,
)


def main() -> None:
    app.main()
