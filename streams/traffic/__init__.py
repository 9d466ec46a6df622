"""Seeded synthetic CDR traffic with ground-truth labels: normal calls plus fraud campaigns.

    records, labels = generate(TrafficConfig(home_region="IT", hours=3, seed=7,
                                             campaigns=[CampaignSpec(name="intl_burst")]))
"""

from streams.traffic.campaigns import SCENARIOS, default_campaigns, scenario_params
from streams.traffic.config import CampaignSpec, TrafficConfig
from streams.traffic.generate import Traffic, generate, generate_traffic

__all__ = [
    "SCENARIOS",
    "CampaignSpec",
    "Traffic",
    "TrafficConfig",
    "default_campaigns",
    "generate",
    "generate_traffic",
    "scenario_params",
]
