"""Which detectors are meant to catch which scenario: the one table to extend.

A campaign counts as detected when any of its scenario's detectors alerts on its calls; a
detector's recall is measured over the calls of the scenarios that name it. Detectors not
(yet) in the engine may be listed: they show up as misses, which is the point.
"""

from __future__ import annotations

from collections.abc import Mapping

EXPECTED: Mapping[str, tuple[str, ...]] = {
    # caller-ID spoofing
    "protected_spoof": ("spoof_protected",),
    "domestic_from_abroad": ("spoof_domestic_from_abroad", "spoof_unverified_roaming"),
    "invalid_caller": ("spoof_invalid_caller",),
    "stir_failed": ("spoof_stir_shaken",),
    "neighbour_spoof": ("spoof_neighbour",),
    "hotline_lookalike": ("spoof_lookalike",),
    # international bursts
    "intl_burst": ("burst_range", "burst_country"),
    "wangiri": ("wangiri_range", "burst_range", "burst_country"),
    "fanout_number": ("fanout_number",),
    "slow_ramp": ("burst_ramp", "burst_range", "burst_country"),
    "bombarded_subscriber": ("targeted_subscriber",),
    # a wangiri run and its victims calling back: the run is a wangiri's, each outbound
    # callback (labelled wangiri_callback) is caught by the callback guard's alert naming it
    "wangiri_callbacks": ("wangiri_range", "burst_range", "burst_country", "callback_risk"),
    "wangiri_callback": ("callback_risk",),
    # traps: a burst the detector sees only when the trunk's number format is declared
    "bare_digit_trunk": ("burst_range", "burst_country"),
    # traps of legitimate traffic (streams/traffic/traps.py, screening.py): no detector is
    # meant to alert; what alerts anyway is counted per trap (streams/evaluation/traps.py)
    "roamer_unflagged": (),
    "foreign_call_centre": (),
    "forwarding_transit": (),
    "holiday_surge": (),
    "valid_short_numbers": (),
    "unscreened_trunk": (),
}

NORMAL = "normal"


def expected_for(scenario: str, table: Mapping[str, tuple[str, ...]] = EXPECTED
                 ) -> tuple[str, ...]:
    """The detectors meant for `scenario`; () for normal traffic or a scenario not listed."""
    return tuple(table.get(scenario, ()))


def targets(table: Mapping[str, tuple[str, ...]] = EXPECTED) -> dict[str, set[str]]:
    """detector -> the scenarios it is meant to catch (the inverse of the table)."""
    out: dict[str, set[str]] = {}
    for scenario, detectors in table.items():
        for detector in detectors:
            out.setdefault(detector, set()).add(scenario)
    return out
