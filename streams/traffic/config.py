"""What to generate: one TrafficConfig, with the campaigns to inject as CampaignSpecs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from streams.numbering import check_region


class CampaignSpec(BaseModel):
    """One fraud campaign: a scenario name, its parameters, and when it starts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="scenario name, see streams.traffic.SCENARIOS")
    params: dict[str, Any] = Field(default_factory=dict)
    start_offset: timedelta = Field(timedelta(hours=1), description="after TrafficConfig.start")
    id: str | None = Field(None, description="campaign id; default '<name>-<n>'")


class TrafficConfig(BaseModel):
    """Seeded description of a traffic sample; the same config always gives the same bytes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    home_region: str = Field("IT", description="ISO region of the operator")
    start: AwareDatetime = datetime(2026, 11, 20, tzinfo=UTC)
    hours: float = Field(24.0, gt=0, le=24 * 62)
    calls_per_hour: float = Field(2000.0, ge=0, description="daily mean, domestic + intl")
    international_share: float = Field(0.08, ge=0, le=1)
    seed: int = Field(7, ge=0)
    campaigns: list[CampaignSpec] = Field(default_factory=list)
    max_lateness_s: float = Field(30.0, ge=0, description="bound on out-of-order arrival")
    ingress_kind_share: float = Field(0.4, ge=0, le=1, description="records carrying it")
    id_prefix: str | None = Field(None, description="record_id prefix; default '<home><seed>'")

    _region = field_validator("home_region")(check_region)
