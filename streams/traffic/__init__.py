"""Seeded synthetic CDR traffic with ground-truth labels: normal calls, fraud campaigns, and
traps (legitimate traffic shaped like fraud).

    records, labels = generate(TrafficConfig(home_region="IT", hours=3, seed=7,
                                             campaigns=[CampaignSpec(name="intl_burst")]))
"""

from streams.traffic.campaigns import (
    SCENARIOS,
    TRAPS,
    default_campaigns,
    default_traps,
    scenario_params,
)
from streams.traffic.config import CampaignSpec, TrafficConfig
from streams.traffic.generate import Traffic, generate, generate_traffic

__all__ = [
    "SCENARIOS",
    "TRAPS",
    "CampaignSpec",
    "Traffic",
    "TrafficConfig",
    "default_campaigns",
    "default_traps",
    "generate",
    "generate_traffic",
    "scenario_params",
]
