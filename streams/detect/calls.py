"""A CallEvent read once against the policy: numbers classified, ingress kind resolved."""

from __future__ import annotations

from dataclasses import dataclass

from streams.events import CallEvent
from streams.numbering import Number, classify, home_country_code, read_caller
from streams.policy import Policy


@dataclass(frozen=True, slots=True)
class Call:
    """Everything the detectors need from one CDR, computed once."""

    event: CallEvent
    ts: float
    caller: Number
    network: Number | None
    ingress_kind: str
    home_cc: int
    region: str
    # False when neither the record nor the policy's trunk map said what the trunk is: read
    # as national, which silences the from-abroad rules for it, so the worker counts it.
    trunk_known: bool = True

    @property
    def callee(self) -> Number:
        """Read on demand: most calls never need it, and new subscriber numbers are the
        costliest cache misses (classify() is memoised, so a second read is a lookup).
        Always read in the home plan: the callee is the operator's own subscriber, and bare
        digits that start with the home country code are already read as such."""
        return classify(self.event.called_number, self.region, full=False)

    @property
    def record_id(self) -> str:
        return self.event.record_id

    @property
    def caller_key(self) -> str:
        """E.164 where there is one, else the raw text: the key a spoofed caller ID is known by."""
        return self.caller.e164 or f"raw:{self.caller.raw.strip()[:32]}"

    @property
    def callee_key(self) -> str:
        return self.callee.e164 or f"raw:{self.callee.raw.strip()[:32]}"

    @property
    def foreign_caller(self) -> bool:
        """A caller ID of another country: the "00"/"+" traffic the burst detectors watch."""
        return self.caller.country_code is not None and self.caller.country_code != self.home_cc

    @property
    def domestic_caller(self) -> bool:
        return self.caller.country_code == self.home_cc


def enrich(event: CallEvent, policy: Policy) -> Call:
    region = policy.home_country
    kind = event.ingress_kind or policy.trunks.get(event.ingress_trunk)
    if policy.all_national:  # the plain cached reading, as before formats existed
        caller = classify(event.calling_number, region)
        network = classify(event.network_number, region) if event.network_number else None
    else:
        fmt = policy.number_format_of(event.ingress_trunk)
        caller = read_caller(event.calling_number, region, fmt)
        network = (read_caller(event.network_number, region, fmt) if event.network_number
                   else None)
    return Call(
        event=event,
        ts=event.start_time.timestamp(),
        caller=caller,
        network=network,
        ingress_kind=kind or "national",
        home_cc=home_country_code(region),
        region=region,
        trunk_known=kind is not None,
    )
