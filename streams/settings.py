"""Process settings from the environment (prefix CDRWATCH_); detection policy lives in policy.py."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POLICY = Path(__file__).parent / "policies" / "default.toml"


class Settings(BaseSettings):
    """Where to read, where to write, how to reach the cluster; frozen once loaded."""

    # hide_input_in_errors: a validation error would otherwise quote its input, the
    # password and the pseudonym key with it, in any traceback that shows it.
    model_config = SettingsConfigDict(env_prefix="CDRWATCH_", frozen=True, extra="ignore",
                                      hide_input_in_errors=True)

    broker: str = Field("kafka://127.0.0.1:9092", description="Faust broker URL(s), ';'-separated")
    app_id: str = "cdrwatch"
    events_topic: str = "cdr-events"
    alerts_topic: str = "cdr-alerts"
    dlq_topic: str = "cdr-dead-letter"
    verdicts_topic: str = "cdr-verdicts"
    warnings_topic: str = "cdr-warnings"
    feedback_topic: str = Field("cdr-feedback", description="analysts' verdicts in, keyed by "
                                "alert_id (AnalystFeedback); not compacted: the latest `at` "
                                "holds, not the last written")
    # internal: verdicts that may warn, keyed by subscriber (each subscriber's book is on
    # one partition)
    warn_topic: str = "cdrwatch-warn"
    keyed_topic: str = "cdrwatch-keyed"
    hotlist_topic: str = Field("cdr-hotlist", description="compacted: key = number or range, "
                               "value = hotlist entry, a tombstone once it is gone")
    hotlist_ttl_s: float = Field(3600.0, gt=0, description="an entry expires this long after "
                                 "its incident's last window")
    partitions: int = Field(4, ge=1, description="partitions for topics the worker creates")
    policy: Path = DEFAULT_POLICY
    metrics_port: int = Field(9108, ge=0, le=65535, description="0 disables the /metrics server")
    # Loopback unless told: CDRs are personal data, and nothing should listen on every
    # interface by default (the image and the manifests set the pod address).
    metrics_host: str = "127.0.0.1"
    log_level: str = "info"
    log_json: bool = False
    batch_size: int = Field(500, ge=1, description="max messages per take() batch")
    batch_within_s: float = Field(0.02, gt=0, description="max wait to fill a batch")
    idle_flush_s: float = Field(
        30.0, gt=0, description="wall-clock silence after which an events partition read to its "
        "end stops holding the watermark back (it never closes a window by itself)"
    )
    flush_interval_s: float = Field(
        5.0, gt=0, description="how often event-time marks are sent while no events come")
    state_write_interval_s: float = Field(
        0.02, gt=0, description="how long a key's changes gather before a write round sends "
        "its state to the changelog; its keyed messages are committed only after that")
    rebalance_timeout_s: int = Field(10, ge=1)
    producer_linger_ms: int = Field(5, ge=0)
    fetch_max_wait_ms: int = Field(
        20, ge=0, le=1500,
        description="longest a fetch waits for data: bounds the latency each topic hop adds",
    )
    data_dir: Path = Path("/tmp/cdrwatch-data")
    baseline: Path | None = Field(
        None, description="`cdrwatch baseline learn` output: keys this worker holds no state "
        "for start from what they learned there (warm start)")
    # Production cluster security, for every Kafka client cdrwatch builds (streams/security.py);
    # secrets are SecretStr and never printed.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # The Kubernetes Secret convention: a mounted file holds the password (one trailing
    # newline is not part of it); set this or sasl_password, not both.
    sasl_password_file: Path | None = None
    ssl_cafile: Path | None = Field(None, description="CA bundle (PEM) that signed the brokers")
    # Key of the alert pseudonyms ([privacy] pseudonymise in the policy): whoever holds it
    # can tell which number an alert is about, so it is a secret like the password.
    pseudonym_key: SecretStr | None = None
    pseudonym_key_file: Path | None = None

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("pseudonym_key")
    @classmethod
    def _long_key(cls, key: SecretStr | None) -> SecretStr | None:
        """A short key could be found by trying keys against one known number's pseudonym."""
        if key is not None and len(key.get_secret_value()) < MIN_PSEUDONYM_KEY:
            raise ValueError(f"the pseudonym key must be at least {MIN_PSEUDONYM_KEY} characters")
        return key

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name in ("sasl_password", "pseudonym_key"):
            data = _secret_from_file(data, name)
        return data

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Settings:
        if self.security_protocol.startswith("SASL_") and not (
                self.sasl_username and self.sasl_password):
            raise ValueError(f"CDRWATCH_SECURITY_PROTOCOL={self.security_protocol} needs "
                             "CDRWATCH_SASL_USERNAME and a password (CDRWATCH_SASL_PASSWORD "
                             "or CDRWATCH_SASL_PASSWORD_FILE)")
        return self


MIN_PSEUDONYM_KEY = 16


def _secret_from_file(data: dict[str, Any], name: str) -> dict[str, Any]:
    """`name` read from the file `name`_file names, if set; never both."""
    env, file_env = f"CDRWATCH_{name.upper()}", f"CDRWATCH_{name.upper()}_FILE"
    if not data.get(f"{name}_file"):
        return data
    if data.get(name):
        raise ValueError(f"set {env} or {file_env}, not both")
    path = Path(data[f"{name}_file"])
    try:
        secret = path.read_text(encoding="utf-8").removesuffix("\n")
    except OSError as exc:
        raise ValueError(f"{file_env} {path}: {exc.strerror}") from None
    return {**data, name: secret}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
