"""Routes each call to the per-call rules and the keyed statistics; the offline runner.

The Faust worker and `cdrwatch detect` both call `Engine.route` and `Engine.apply`; only
where the state is kept differs (a Faust table vs a dict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streams.detect.calls import Call, enrich
from streams.detect.families import build_families
from streams.detect.spoofing import Verdict, verdicts
from streams.detect.windowed import Item, State, flush, fold
from streams.events import Alert, CallEvent
from streams.policy import Policy

Routed = tuple[str, str, Item]  # (family, key, item)


def _held_s(ev: CallEvent) -> float:
    """Seconds the call occupied the line: connected time, or ringing time if unanswered."""
    if ev.answered or ev.end_time is None:
        return ev.duration_s
    return max(0.0, (ev.end_time - ev.start_time).total_seconds())


@dataclass(slots=True)
class Routing:
    """What one call produced before any state is touched."""

    call: Call
    verdicts: list[Verdict]
    suppressed: list[Verdict]
    routed: list[Routed]


class Engine:
    """Stateless front half (per-call rules, routing) and the keyed fold, bound to one policy."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.families = build_families(policy)
        self.range_digits = policy.bursts.range_digits
        self.neighbour_digits = policy.neighbour.digits

    def route(self, event: CallEvent) -> Routing:
        call = enrich(event, self.policy)
        found, suppressed = verdicts(call, self.policy)
        ev = call.event
        fams = self.families
        routed: list[Routed] = []
        if "spoof_velocity" in fams and call.domestic_caller and call.caller.kind == "mobile":
            # Only a person's phone cannot hold five calls or be abroad and at home at once;
            # fixed lines are PBXs, and foreign numbers have their own fan-out statistic.
            routed.append(("spoof_velocity", call.caller_key, Item(
                call.ts, ev.record_id, call.caller_key, "", _held_s(ev), ev.answered,
                tag=f"M|{call.ingress_kind}|{ev.ingress_trunk}")))
        neighbour = "spoof_neighbour" in fams and self._neighbour(call)
        if not (found or neighbour or call.foreign_caller):
            return Routing(call, found, suppressed, routed)
        base = (call.ts, ev.record_id, call.caller_key, call.callee_key, _held_s(ev), ev.answered)
        routed.extend(
            (v.rule, call.caller_key, Item(*base, note=(v.severity, v.score, v.reason)))
            for v in found if v.rule in fams
        )
        if neighbour:
            routed.append(("spoof_neighbour", f"trunk:{ev.ingress_trunk}", Item(*base)))
        if call.foreign_caller and call.ingress_kind != "internal":
            ring = "r" if not ev.answered and ev.end_time is not None else ""
            item = Item(*base, tag=f"{ev.release_cause or ''}|{ring}")
            block = call.caller.range_key(self.range_digits)
            keys = {
                "burst_range": block,
                "burst_country": call.caller.country_key,
                "wangiri_range": block,
                "fanout_number": call.caller_key,
                "targeted_subscriber": call.callee_key,
                "burst_ramp": block,
            }
            routed.extend((fam, key, item) for fam, key in keys.items() if fam in self.families)
        return Routing(call, found, suppressed, routed)

    def _neighbour(self, call: Call) -> bool:
        """Caller ID in the callee's own number block, yet not the callee."""
        caller, digits = call.caller, self.neighbour_digits
        dialled = "".join(filter(str.isdigit, call.event.called_number))
        if not caller.valid or caller.nsn[:digits] not in dialled:
            return False  # cheap test first: the block's digits must appear in the callee
        callee = call.callee
        return (caller.country_code == callee.country_code
                and caller.e164 != callee.e164 and len(callee.nsn) > digits
                and caller.nsn[:digits] == callee.nsn[:digits])

    def apply(self, family: str, key: str, state: State | None, items: list[Item],
              upto: float | None = None) -> tuple[State, list[Alert], int]:
        return fold(self.families[family], key, state, items, upto)

    def flush(self, family: str, key: str, state: State, upto: float | None = None
              ) -> tuple[State, list[Alert]]:
        return flush(self.families[family], key, state, upto)


@dataclass
class OfflineResult:
    alerts: list[Alert] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    late: int = 0
    events: int = 0
    unmapped_trunks: dict[str, int] = field(default_factory=dict)  # trunk -> calls


def run_offline(
    events: Iterable[CallEvent], policy: Policy, flush_at_end: bool = True,
    on_call: Callable[[Routing, list[int]], None] | None = None,
) -> OfflineResult:
    """The same detectors as the worker, state in a dict, calls in file order.

    `on_call` sees each call's routing and, per routed item, whether it came too late to
    count (1) or not (0): the evaluation notes which calls each window holds.
    """
    engine = Engine(policy)
    states: dict[tuple[str, str], State] = {}
    result = OfflineResult()
    for event in events:
        result.events += 1
        routing = engine.route(event)
        if not routing.call.trunk_known:
            trunk = event.ingress_trunk
            result.unmapped_trunks[trunk] = result.unmapped_trunks.get(trunk, 0) + 1
        for v in routing.verdicts:
            result.verdicts[v.rule] = result.verdicts.get(v.rule, 0) + 1
        for v in routing.suppressed:
            result.suppressed[v.rule] = result.suppressed.get(v.rule, 0) + 1
        lates = []
        for family, key, item in routing.routed:
            state, alerts, late = engine.apply(family, key, states.get((family, key)), [item])
            states[(family, key)] = state
            result.alerts.extend(alerts)
            lates.append(late)
        result.late += sum(lates)
        if on_call is not None:
            on_call(routing, lates)
    if flush_at_end:
        for (family, key), state in states.items():
            result.alerts.extend(engine.flush(family, key, state)[1])
    return result
