"""Operator policy (TOML): what to protect, how trunks map, and every detector's thresholds.

Profiles are frozen: they say *what* to compute. Running values live in detector state.
"""

from __future__ import annotations

import hashlib
import tomllib
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from streams.events import Severity
from streams.numbering import (
    NumberFormat,
    check_region,
    classify,
    home_country_code,
    normalise,
)

IngressKind = Literal["international", "national", "mobile", "internal"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProtectedNumbers(_Frozen):
    numbers: list[str] = Field(default_factory=list, description="inbound-only numbers, any format")
    prefixes: list[str] = Field(
        default_factory=list,
        description="E.164 prefixes of number classes that never originate calls (e.g. '+86400')",
    )


class Allowlist(_Frozen):
    # Enterprise trunks allowed to present these numbers (their customers' DDIs).
    trunk_numbers: dict[str, list[str]] = Field(default_factory=dict)
    # Caller IDs never flagged by spoofing rules (own call centres, partners).
    calling_numbers: list[str] = Field(default_factory=list)
    # Trunks whose traffic is never flagged by spoofing rules (roaming partners' test lines).
    trunks: list[str] = Field(default_factory=list)


class SpoofingProfile(_Frozen):
    protected: bool = True
    domestic_on_international: bool = True
    invalid_caller_id: bool = True
    stir_shaken: bool = True
    network_mismatch: bool = True
    lookalike: bool = True
    flag_premium_rate: bool = True
    flag_toll_free: bool = True
    # One open alert per rule and caller ID for this long; later calls update it.
    dedup_window_s: int = Field(3600, ge=60)


class BurstProfile(_Frozen):
    """International volume per source country and range, against a per-key baseline."""

    enabled: bool = True
    window_s: int = Field(300, ge=10, description="tumbling event-time window")
    allowed_lateness_s: int = Field(120, ge=0)
    range_digits: int = Field(5, ge=1, le=10, description="national digits in a range key")
    # Count model: alert when P(X >= observed | baseline) < p_value under a negative
    # binomial whose size each key learns (variance = mu + mu^2 / size), starting from
    # `dispersion`, the family's prior size, weighted as `dispersion_prior_windows` windows.
    p_value: float = Field(1e-6, gt=0, lt=0.5)
    dispersion: float = Field(5.0, gt=0)
    dispersion_prior_windows: float = Field(12.0, ge=0)
    # EW weight of a window in the variance moments: slower than the mean, since a
    # variance needs more windows than a mean for the same precision.
    dispersion_learning_rate: float = Field(0.01, gt=0, le=1)
    # Floor: a key must reach this many calls, to this many distinct subscribers, in a
    # window before it can alert at all; above it the count model decides.
    min_count: int = Field(8, ge=2)
    min_distinct_callees: int = Field(5, ge=1)
    # Expected calls per window for a key never seen before (the prior mean).
    prior_mean: float = Field(0.5, gt=0)
    # Weight of a closed window in the exponentially weighted baseline.
    learning_rate: float = Field(0.05, gt=0, le=1)
    # A country key only learns (never alerts) for its first windows: every country is
    # "new" when a worker starts, and country volumes are far above the range floor.
    country_warmup_windows: int = Field(12, ge=0)


class RampProfile(_Frozen):
    """Slow ramps: a CUSUM of calls above baseline over longer windows, per range."""

    enabled: bool = True
    window_s: int = Field(900, ge=60)
    # Calls per window above the baseline mean that a range may add without accumulating.
    allowance: float = Field(2.0, ge=0)
    # Cumulative excess calls at which the ramp is reported.
    decision: float = Field(15.0, gt=0)


class VelocityProfile(_Frozen):
    """One caller ID used implausibly: from abroad and at home at once, or too many calls.

    International carriers are interchangeable (least-cost routing), so distinct trunks mean
    little; a number seen on international and domestic ingress within minutes does.
    """

    enabled: bool = True
    window_s: int = Field(600, ge=60)
    # Handsets hold two calls (one on hold); multi-device (watch, eSIM twin) one or two more.
    max_concurrent_mobile: int = Field(
        5, ge=2, description="simultaneous calls of one mobile number that raise the alarm")
    # Calls needed on each side (abroad / home) before a mix counts: one stray record of a
    # roamer is not yet a cloned or spoofed number.
    min_calls_each_side: int = Field(2, ge=1)


class NeighbourProfile(_Frozen):
    """Caller IDs that copy the callee's number block, counted per ingress trunk."""

    enabled: bool = True
    digits: int = Field(6, ge=3, le=10, description="leading national digits shared")
    window_s: int = Field(1800, ge=60)
    min_distinct_callees: int = Field(10, ge=2)


class FanoutProfile(_Frozen):
    enabled: bool = True
    window_s: int = Field(600, ge=10)
    min_distinct_callees: int = Field(25, ge=2)
    exact_limit: int = Field(4096, ge=16, description="callees kept exactly per key; then HLL")


class WangiriProfile(_Frozen):
    enabled: bool = True
    window_s: int = Field(600, ge=10)
    min_calls: int = Field(20, ge=2)
    short_call_s: float = Field(3.0, ge=0, description="answered calls shorter are one-ring")
    # An unanswered call the caller abandoned within one ring cadence (ITU-T E.180: about
    # 1 s on, 4 s off); busy / no-answer / rejected releases are the callee's side, not it.
    max_ring_s: float = Field(6.0, ge=0)
    min_short_share: float = Field(0.8, gt=0, le=1)


class TargetProfile(_Frozen):
    enabled: bool = True
    window_s: int = Field(1800, ge=10)
    min_distinct_callers: int = Field(8, ge=2)


class NumberFormatProfile(_Frozen):
    """How each trunk logs caller IDs without "+" or "00" (see streams.numbering.NumberFormat),
    and when a trunk's declared format is judged against its own numbers."""

    default: NumberFormat = Field("national", description="for trunks not listed")
    trunks: dict[str, NumberFormat] = Field(default_factory=dict)
    # Bare-digit caller IDs of a trunk read before its format is judged: at 100, a format
    # that really fits 60% of a trunk's numbers shows under half about 2% of the time.
    check_calls: int = Field(100, ge=10)


class StreamProfile(_Frozen):
    """Bounds on event time and state: what the stream core accepts and how long it keeps."""

    # A record dated further ahead of the wall clock than this is dead-lettered: one bad
    # clock must not move its partition's event time and close everyone's windows.
    max_future_s: int = Field(3600, ge=0)
    # A record older than this (epoch-zero dates, a year typed as 0026) is dead-lettered too.
    max_past_days: int = Field(3650, ge=1)
    # A learned baseline of a key silent for this long (event time) is forgotten.
    baseline_ttl_s: int = Field(14 * 86400, ge=3600)


class ActionsProfile(_Frozen):
    """What cdrwatch does with the calls its incidents cover (streams/verdicts.py)."""

    # A verdict for every call an incident covers (`cdr-verdicts`, `detect --verdicts`):
    # each window keeps its calls until it is known whether an incident covers them.
    verdicts: bool = True
    # A warning to each subscriber who answered a call of an incident and talked at least
    # this long (`cdr-warnings`, `detect --warnings`); needs verdicts.
    warn: bool = True
    warn_min_talk_s: float = Field(0.0, ge=0)
    # Warnings one subscriber gets per day (the policy's timezone), whatever the incidents.
    warn_daily_cap: int = Field(3, ge=1)
    warn_language: str = "en"
    # Per language, per kind of incident ("spoofing": a faked caller ID; "campaign": a
    # burst of calls from a range, a country or a number), the short text an SMS or IVR
    # system says; {time} is the call's local time, {caller} the caller ID shown.
    warn_templates: dict[str, dict[str, str]] = Field(default_factory=lambda: {
        "en": {
            "spoofing": "The call you answered at {time} from {caller} did not come from the "
                        "number shown. Do not give codes, card or account details; hang up "
                        "and call back on the official number.",
            "campaign": "The call you answered at {time} from {caller} is part of a scam "
                        "campaign. Do not call back; never give codes or card details.",
        },
        "it": {
            "spoofing": "La chiamata delle {time} da {caller} non proveniva dal numero "
                        "mostrato. Non fornire codici o dati della carta; richiama il numero "
                        "ufficiale.",
            "campaign": "La chiamata delle {time} da {caller} fa parte di una campagna di "
                        "truffa. Non richiamare; non fornire mai codici o dati della carta.",
        },
    })

    @model_validator(mode="after")
    def _templates(self) -> ActionsProfile:
        kinds = self.warn_templates.get(self.warn_language)
        if kinds is None or {"spoofing", "campaign"} - set(kinds):
            raise ValueError(f"key 'actions.warn_templates.{self.warn_language}': "
                             "needs a 'spoofing' and a 'campaign' text for warn_language")
        for lang, texts in self.warn_templates.items():
            for kind, text in texts.items():
                try:
                    text.format(time="", caller="")
                except (KeyError, IndexError, ValueError) as exc:
                    raise ValueError(f"key 'actions.warn_templates.{lang}.{kind}': only "
                                     f"{{time}} and {{caller}} may be used ({exc})") from None
        return self


Flagging = Literal["burst_range", "wangiri_range", "burst_ramp", "fanout_number"]
# ITU-T E.164 shared codes: satellite (+881) and international networks (+882, +883), where
# revenue-share fraud terminates calls no national regulator polices.
INTERNATIONAL_NETWORKS = ("+881", "+882", "+883")


class CallbackProfile(_Frozen):
    """The callback guard: a subscriber calling a number or range an incident flagged."""

    enabled: bool = True
    # A wangiri victim calls back when they see the missed call: mostly the same day, yet a
    # weekend's missed calls are returned on Monday; 72 h covers that and stays bounded.
    window_h: float = Field(72.0, gt=0, le=24 * 31)
    # Incidents whose number or range a callback is checked against (a range or a number
    # key: a whole country, or one subscriber, says nothing of the number called).
    detectors: list[Flagging] = Field(
        default_factory=lambda: ["burst_range", "wangiri_range", "fanout_number"])
    severity: Severity = "high"
    # Premium-rate and shared-cost destinations (libphonenumber's number type), the
    # international networks above, and these E.164 prefixes: where a callback costs money.
    high_cost_severity: Severity = "critical"
    extra_high_cost_prefixes: list[str] = Field(default_factory=list)

    @cached_property
    def high_cost_prefixes(self) -> tuple[str, ...]:
        return (*INTERNATIONAL_NETWORKS, *self.extra_high_cost_prefixes)


class PrivacyProfile(_Frozen):
    # Alerts leave with `pn:` pseudonyms instead of phone numbers (streams/pseudonym.py); the
    # key comes from CDRWATCH_PSEUDONYM_KEY or CDRWATCH_PSEUDONYM_KEY_FILE.
    pseudonymise: bool = False


class Policy(_Frozen):
    preset: str | None = Field(None, description="regulatory preset this policy starts from")
    home_country: str = Field("IT", description="ISO 3166 region of national numbers")
    timezone: str = Field("UTC", description="IANA zone of the operator's day and week")
    protected_numbers: ProtectedNumbers = ProtectedNumbers()
    trunks: dict[str, IngressKind] = Field(default_factory=dict)
    number_format: NumberFormatProfile = NumberFormatProfile()
    allowlist: Allowlist = Allowlist()
    spoofing: SpoofingProfile = SpoofingProfile()
    bursts: BurstProfile = BurstProfile()
    fanout: FanoutProfile = FanoutProfile()
    wangiri: WangiriProfile = WangiriProfile()
    targeted: TargetProfile = TargetProfile()
    ramp: RampProfile = RampProfile()
    velocity: VelocityProfile = VelocityProfile()
    neighbour: NeighbourProfile = NeighbourProfile()
    stream: StreamProfile = StreamProfile()
    max_record_ids: int = Field(50, ge=1, le=1000, description="record_ids sample per alert")
    privacy: PrivacyProfile = PrivacyProfile()
    actions: ActionsProfile = ActionsProfile()
    callback: CallbackProfile = CallbackProfile()

    _known_region = field_validator("home_country")(check_region)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Europe/Rome')") from exc
        return name

    @model_validator(mode="after")
    def _dialable_numbers(self) -> Policy:
        """A number that cannot be read in the home plan would be dropped silently and never
        protect or allow anything: refuse the file instead, naming the entry."""
        lists = {"protected_numbers.numbers": self.protected_numbers.numbers,
                 "allowlist.calling_numbers": self.allowlist.calling_numbers,
                 **{f"allowlist.trunk_numbers.{trunk}": numbers
                    for trunk, numbers in self.allowlist.trunk_numbers.items()}}
        for key, numbers in lists.items():
            for i, number in enumerate(numbers):
                if normalise(number, self.home_country) is None:
                    raise ValueError(f"key '{key}[{i}]': {number!r} is not a phone number of "
                                     f"the {self.home_country} numbering plan")
        for i, prefix in enumerate(self.protected_numbers.prefixes):
            if not (prefix.startswith("+") and prefix[1:].isdigit()):
                raise ValueError(f"key 'protected_numbers.prefixes[{i}]': {prefix!r} is not an "
                                 "E.164 prefix such as '+39400'")
        return self

    @model_validator(mode="after")
    def _callback(self) -> Policy:
        """A callback is judged once the window of its time has closed: the flagged span
        must outlast a window, or an incident still open then could end before it."""
        for i, prefix in enumerate(self.callback.extra_high_cost_prefixes):
            if not (prefix.startswith("+") and prefix[1:].isdigit()):
                raise ValueError(f"key 'callback.extra_high_cost_prefixes[{i}]': {prefix!r} is "
                                 "not an E.164 prefix such as '+881'")
        longest = max(self.bursts.window_s, self.wangiri.window_s, self.fanout.window_s,
                      self.ramp.window_s)
        if self.callback.window_h * 3600 < longest:
            raise ValueError(f"key 'callback.window_h': {self.callback.window_h:g} h is "
                             f"shorter than the longest flagging window ({longest} s)")
        return self

    # Number lists normalised once, not on every call that reads them.
    @cached_property
    def protected_national(self) -> tuple[tuple[str, str], ...]:
        """(national significant digits, E.164) of each dialable protected number, in file
        order."""
        numbers = (classify(n, self.home_country) for n in self.protected_numbers.numbers)
        return tuple((n.nsn, n.e164) for n in numbers if n.e164)

    @cached_property
    def all_national(self) -> bool:
        """Every trunk reads bare digits nationally (the default): then reading a call looks
        no format up."""
        formats = self.number_format
        return {formats.default, *formats.trunks.values()} == {"national"}

    def number_format_of(self, trunk: str) -> NumberFormat:
        return self.number_format.trunks.get(trunk, self.number_format.default)

    @cached_property
    def protected_e164(self) -> frozenset[str]:
        return frozenset(e164 for _, e164 in self.protected_national)

    @cached_property
    def protected_prefixes(self) -> tuple[str, ...]:
        return tuple(self.protected_numbers.prefixes)

    @cached_property
    def protected_home_classes(self) -> tuple[tuple[str, str], ...]:
        """(national leading digits, E.164 prefix) of each protected class of the home plan,
        e.g. ("400", "+86400"): the classes a look-alike caller ID can be built around."""
        cc = f"+{home_country_code(self.home_country)}"
        return tuple((prefix[len(cc):], prefix) for prefix in self.protected_numbers.prefixes
                     if prefix.startswith(cc) and len(prefix) > len(cc))

    @cached_property
    def allowed_e164(self) -> frozenset[str]:
        return self._e164(self.allowlist.calling_numbers)

    @cached_property
    def trunk_allowed_e164(self) -> dict[str, frozenset[str]]:
        return {trunk: self._e164(numbers)
                for trunk, numbers in self.allowlist.trunk_numbers.items()}

    def _e164(self, numbers: list[str]) -> frozenset[str]:
        return frozenset(e for e in (normalise(n, self.home_country) for n in numbers) if e)


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file and the key."""


PRESETS = Path(__file__).parent / "policies" / "presets"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError as exc:
        raise PolicyError(f"policy file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"policy file {path} is not valid TOML: {exc}") from exc


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Tables merge key by key; any other value (lists included) replaces the preset's."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def presets() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


def load_policy(path: Path | str) -> Policy:
    """Read a policy file; `preset = "it"` starts from a shipped regulatory preset."""
    path = Path(path)
    where = f"policy file {path}"
    data = _read_toml(path)
    name = data.get("preset")
    if name is not None:
        data = _merge(_preset_data(name, where), data)
    return _validated(data, where)


def preset_policy(name: str, overrides: dict[str, Any]) -> Policy:
    """A shipped preset with some keys set, as a file with `preset = name` would give."""
    where = f"preset {name}"
    return _validated(_merge(_preset_data(name, where), overrides), where)


def preset_for(region: str) -> str | None:
    """The shipped preset of operators in ISO `region`, if there is one."""
    return next((name for name in presets()
                 if _read_toml(PRESETS / f"{name}.toml").get("home_country") == region), None)


def _preset_data(name: str, where: str) -> dict[str, Any]:
    if name not in presets():
        raise PolicyError(
            f"{where}: key 'preset': unknown preset {name!r}; choose one of {', '.join(presets())}"
        )
    return _read_toml(PRESETS / f"{name}.toml")


def _validated(data: dict[str, Any], where: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" if err["loc"]
            else err["msg"].removeprefix("Value error, ") for err in exc.errors()
        )
        raise PolicyError(f"{where}: {problems}") from exc


def policy_hash(policy: Policy) -> str:
    """Short digest shown in the worker info metric, so a dashboard tells which policy runs."""
    return hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:12]
