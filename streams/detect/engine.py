"""Routes each call to the per-call rules and the keyed statistics; the offline runner.

The Faust worker and `cdrwatch detect` both call `Engine.route` and `Engine.apply`; only
where the state is kept differs (a Faust table vs a dict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from streams.detect import callback
from streams.detect.calls import Call, enrich
from streams.detect.families import build_families
from streams.detect.formats import FormatCheck, Misfit
from streams.detect.keyed import KeyedStates
from streams.detect.spoofing import Verdict, verdicts
from streams.detect.windowed import Covered, Item
from streams.events import Alert, CallEvent
from streams.numbering import classify, home_country_code
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
    misfit: Misfit | None = None  # this call completed its trunk's mis-declared sample


class Engine:
    """Front half (per-call rules, routing) bound to one policy. Its only state is the
    bounded tally of each trunk's first caller IDs that judges its number format."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.families = build_families(policy)
        self.range_digits = policy.bursts.range_digits
        self.neighbour_digits = policy.neighbour.digits
        self.formats = FormatCheck(policy)
        # flagging family -> whether it is keyed by the number (else by its range block)
        self.flagging = {name: name == "fanout_number"
                         for name, fam in self.families.items() if fam.remember_s}

    def route(self, event: CallEvent, src: int = 0, pos: int = -1) -> Routing:
        """`src`, `pos`: where the call was read (partition, position), so that a keyed
        statistic folds each source position once however often it is delivered."""
        if event.direction == "outbound":
            return self._outbound(event, src, pos)
        call = enrich(event, self.policy)
        found, suppressed = verdicts(call, self.policy)
        misfit = self.formats.see(call)
        ev = call.event
        fams = self.families
        routed: list[Routed] = []
        if "spoof_velocity" in fams and call.domestic_caller and call.caller.kind == "mobile":
            # Only a person's phone cannot hold five calls or be abroad and at home at once;
            # fixed lines are PBXs, and foreign numbers have their own fan-out statistic.
            # The callee as dialled: reading it costs a classification most calls never
            # need (a verdict reads it, streams/verdicts.py).
            routed.append(("spoof_velocity", call.caller_key, Item(
                call.ts, ev.record_id, call.caller_key, ev.called_number, _held_s(ev),
                ev.answered,
                tag=f"M|{call.ingress_kind}|{ev.ingress_trunk}", src=src, pos=pos)))
        neighbour = "spoof_neighbour" in fams and self._neighbour(call)
        if not (found or neighbour or call.foreign_caller):
            return Routing(call, found, suppressed, routed, misfit)
        base = (call.ts, ev.record_id, call.caller_key, call.callee_key, _held_s(ev), ev.answered)
        routed.extend(
            (v.rule, call.caller_key,
             Item(*base, note=(v.severity, v.score, v.reason), src=src, pos=pos))
            for v in found if v.rule in fams
        )
        if neighbour:
            routed.append(("spoof_neighbour", f"trunk:{ev.ingress_trunk}",
                           Item(*base, src=src, pos=pos)))
        if call.foreign_caller and call.ingress_kind != "internal":
            ring = "r" if not ev.answered and ev.end_time is not None else ""
            item = Item(*base, tag=f"{ev.release_cause or ''}|{ring}", src=src, pos=pos)
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
        return Routing(call, found, suppressed, routed, misfit)

    def _outbound(self, event: CallEvent, src: int, pos: int) -> Routing:
        """A subscriber's own call: no inbound rule or statistic sees it (its caller is our
        subscriber); a foreign destination goes as a callback item to the keys of the
        incidents that could have flagged it."""
        policy = self.policy
        region = policy.home_country
        subscriber = classify(event.calling_number, region, full=False)
        call = Call(event=event, ts=event.start_time.timestamp(), caller=subscriber,
                    network=None, ingress_kind="internal", home_cc=home_country_code(region),
                    region=region)
        if not self.flagging:
            return Routing(call, [], [], [])
        dest = classify(event.called_number, region)
        if dest.country_code is None or dest.country_code == call.home_cc:
            return Routing(call, [], [], [])
        cost = callback.cost_of(dest, policy.callback)
        severity, score = callback.rating(cost, policy.callback)
        item = Item(call.ts, event.record_id, call.caller_key, dest.e164 or "",
                    event.duration_s, event.answered, note=(severity, score, cost),
                    tag=callback.TAG, src=src, pos=pos)
        block = dest.range_key(self.range_digits)
        return Routing(call, [], [], [
            (name, dest.e164 if by_number else block, item)
            for name, by_number in self.flagging.items()])

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


@dataclass
class OfflineResult:
    alerts: list[Alert] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)
    suppressed: dict[str, int] = field(default_factory=dict)
    late: int = 0
    events: int = 0
    unmapped_trunks: dict[str, int] = field(default_factory=dict)  # trunk -> calls
    duplicates: int = 0  # routed items of a record_id already counted in its window
    misdeclared: list[Misfit] = field(default_factory=list)  # trunks, in the order judged
    states: KeyedStates | None = None  # what every key held at the end (a baseline's source)
    covered: list[Covered] = field(default_factory=list)  # calls under incidents, in order


def run_offline(
    events: Iterable[CallEvent], policy: Policy, flush_at_end: bool = True,
    on_call: Callable[[Routing, list[int]], None] | None = None,
    seeds: dict[tuple[str, str], bytes] | None = None,
) -> OfflineResult:
    """The same detectors as the worker, state in memory, calls in file order.

    The watermark is the latest event time read so far (one ordered source), so a call
    later than the allowed lateness behind it is counted as late, exactly as in the worker.
    `on_call` sees each call's routing and, per routed item, whether it came too late to
    count (1) or not (0): the evaluation notes which calls each window holds. `seeds`: the
    learned states of a baseline (streams/detect/baseline.py) keys start from.
    """
    engine = Engine(policy)
    keyed = KeyedStates(engine.families, policy.stream.baseline_ttl_s, seeds=seeds)
    result = OfflineResult(states=keyed)
    wm: float | None = None
    late = keyed.stats
    for pos, event in enumerate(events):
        result.events += 1
        routing = engine.route(event, 0, pos)
        ts = routing.call.ts
        wm = ts if wm is None or ts > wm else wm
        if not routing.call.trunk_known:
            trunk = event.ingress_trunk
            result.unmapped_trunks[trunk] = result.unmapped_trunks.get(trunk, 0) + 1
        if routing.misfit is not None:
            result.misdeclared.append(routing.misfit)
        for v in routing.verdicts:
            result.verdicts[v.rule] = result.verdicts.get(v.rule, 0) + 1
        for v in routing.suppressed:
            result.suppressed[v.rule] = result.suppressed.get(v.rule, 0) + 1
        lates = []
        for family, key, item in routing.routed:
            before = late[family].late
            result.alerts.extend(keyed.fold(family, key, [item], wm))
            lates.append(late[family].late - before)
        result.alerts.extend(keyed.sweep(0, wm))
        result.covered.extend(keyed.take_covered())
        result.late += sum(lates)
        if on_call is not None:
            on_call(routing, lates)
    if flush_at_end:
        result.alerts.extend(keyed.end())
        result.covered.extend(keyed.take_covered())
    result.duplicates = sum(s.duplicates for s in late.values())
    return result
