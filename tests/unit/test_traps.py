"""Generator traps: legitimate traffic shaped like fraud, labelled as such, built as described.

Numbers are checked here with libphonenumber directly, as the generator picks them.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import phonenumbers
import pytest
from phonenumbers import shortnumberinfo

from streams.traffic import CampaignSpec, Traffic, TrafficConfig, cli, generate_traffic
from streams.traffic.calls import INTL_TRUNKS, UNSCREENED_TRUNK
from streams.traffic.campaigns import TRAPS, default_traps
from streams.traffic.normal import sources
from streams.traffic.screening import ANONYMISED

START = datetime(2026, 11, 20, tzinfo=UTC)
DAY = 86400.0


def _ts(rec: dict) -> float:
    return datetime.fromisoformat(rec["start_time"].replace("Z", "+00:00")).timestamp()


def _config(*campaigns: CampaignSpec, days: int = 2, per_hour: float = 400.0) -> TrafficConfig:
    return TrafficConfig(home_region="IT", start=START, hours=24.0 * days, seed=5,
                         calls_per_hour=per_hour, campaigns=list(campaigns))


@pytest.fixture(scope="module")
def two_days() -> tuple[list[dict], list[dict], list[dict]]:
    """Two IT days with every trap, as `--days 2 --all-traps` builds them."""
    t = generate_traffic(_config(*default_traps("IT", 48.0, START)))
    return t.records, t.labels, t.campaigns


def _of(data: tuple, scenario: str) -> list[dict]:
    records, labels, _ = data
    return [r for r, lab in zip(records, labels, strict=True) if lab["scenario"] == scenario]


def _parse(number: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.parse("+" + number[2:] if number.startswith("00") else number, "IT")


def test_every_trap_is_labelled_legitimate_with_its_own_kind(two_days: tuple) -> None:
    _, labels, campaigns = two_days
    kinds = Counter(lab["trap"] for lab in labels if "trap" in lab)
    assert set(kinds) == TRAPS - {"duplicates_late"}
    assert all(n > 100 for n in kinds.values())
    assert not any(lab["fraud"] for lab in labels)
    assert all(lab["scenario"] == lab["trap"] for lab in labels if "trap" in lab)
    assert {c["scenario"] for c in campaigns} == TRAPS
    assert all(c["trap"] and not c["fraud"] for c in campaigns)


def test_unflagged_roamers_carry_no_roaming_field(two_days: tuple) -> None:
    roamers = _of(two_days, "roamer_unflagged")
    assert roamers
    for rec in roamers:
        assert "calling_roaming" not in rec
        assert rec["ingress_trunk"] in INTL_TRUNKS
        num = _parse(rec["calling_number"])
        assert phonenumbers.region_code_for_number(num) == "IT"
        assert phonenumbers.number_type(num) == phonenumbers.PhoneNumberType.MOBILE


def test_foreign_call_centre_one_range_every_day_thousands_of_subscribers(two_days: tuple
                                                                         ) -> None:
    calls = _of(two_days, "foreign_call_centre")
    prefixes = {_parse(r["calling_number"]).national_number // 10**4 for r in calls}
    assert len(prefixes) == 1
    by_day: dict[int, list[dict]] = {}
    for rec in calls:
        by_day.setdefault(int((_ts(rec) - START.timestamp()) // DAY), []).append(rec)
    assert sorted(by_day) == [0, 1]
    volumes = [len(day) for day in by_day.values()]
    assert max(volumes) < 1.1 * min(volumes)
    for day in by_day.values():
        assert len({r["called_number"].removeprefix("+39") for r in day}) >= 1000


def test_forwarded_calls_name_another_network_number_and_transit_is_verified(two_days: tuple
                                                                            ) -> None:
    _, labels, _ = two_days
    records = two_days[0]
    parts = Counter(lab["component"] for lab in labels if lab["scenario"] == "forwarding_transit")
    assert set(parts) == {"forwarded", "transit"}
    for rec, lab in zip(records, labels, strict=True):
        if lab["component"] == "forwarded":
            assert rec["network_number"] != rec["calling_number"]
            assert phonenumbers.region_code_for_number(_parse(rec["calling_number"])) == "IT"
        elif lab["component"] == "transit":
            assert rec["ingress_trunk"] in INTL_TRUNKS
            assert (rec["verstat"], rec["attestation"]) == ("TN-Validation-Passed", "A")
            assert phonenumbers.region_code_for_number(_parse(rec["calling_number"])) == "IT"
            assert "calling_roaming" not in rec and "network_number" not in rec
    abroad = [r for r, lab in zip(records, labels, strict=True) if lab["component"] == "forwarded"
              and phonenumbers.region_code_for_number(_parse(r["network_number"])) != "IT"]
    assert abroad and all(r["ingress_trunk"] in INTL_TRUNKS for r in abroad)


def test_holiday_surge_triples_every_diaspora_country_on_the_last_evening(two_days: tuple
                                                                         ) -> None:
    records, labels, campaigns = two_days
    surge = next(c for c in campaigns if c["scenario"] == "holiday_surge")
    lo = datetime.fromisoformat(surge["start"].replace("Z", "+00:00")).timestamp()
    assert lo - START.timestamp() > DAY  # day two, once day one was learned
    hi = lo + surge["parameters"]["hours"] * 3600

    def abroad(day_shift: float) -> int:
        return sum(lab["component"] in ("international", "holiday_surge")
                   and lo - day_shift <= _ts(r) < hi - day_shift
                   for r, lab in zip(records, labels, strict=True))
    assert 2.4 < abroad(0) / abroad(DAY) < 3.6
    assert surge["parameters"]["countries"] == "/".join(sorted(sources("IT")))
    countries = {phonenumbers.region_code_for_number(_parse(r["calling_number"]))
                 for r in _of(two_days, "holiday_surge")}
    assert len(countries) >= 0.8 * len(sources("IT"))


def test_valid_short_numbers_are_valid_in_the_home_plan(two_days: tuple) -> None:
    calls = _of(two_days, "valid_short_numbers")
    short = 0
    for rec in calls:
        raw = rec["calling_number"]
        num = phonenumbers.parse(raw, "IT")
        if shortnumberinfo.is_valid_short_number_for_region(num, "IT"):
            short += 1
            assert not shortnumberinfo.is_emergency_number(raw, "IT")
        else:
            assert phonenumbers.is_valid_number_for_region(num, "IT"), raw
            assert not raw.startswith(("+", "00"))  # national format
    assert 0.3 < short / len(calls) < 0.7


def test_unscreened_trunk_is_mostly_invalid_or_anonymised(two_days: tuple) -> None:
    calls = _of(two_days, "unscreened_trunk")
    assert {r["ingress_trunk"] for r in calls} == {UNSCREENED_TRUNK}

    def unusable(raw: str) -> bool:
        return raw in ANONYMISED or not phonenumbers.is_valid_number(_parse(raw))
    assert sum(unusable(r["calling_number"]) for r in calls) / len(calls) > 0.7


def test_duplicates_repeat_the_record_and_late_records_arrive_late(two_days: tuple) -> None:
    records, labels, campaigns = two_days
    times = Counter(r["record_id"] for r in records)
    twice = {rid for rid, n in times.items() if n == 2}
    assert twice and max(times.values()) == 2
    assert twice == {lab["record_id"] for lab in labels if lab.get("duplicate")}
    first: dict[str, dict] = {}
    for rec in records:
        if rec["record_id"] in first:
            assert rec == first[rec["record_id"]]
        first[rec["record_id"]] = rec
    summary = next(c for c in campaigns if c["scenario"] == "duplicates_late")
    assert summary["parameters"]["duplicated"] == len(twice)
    late = {lab["record_id"]: lab["late_s"] for lab in labels if "late_s" in lab}
    assert late and not set(late) & twice and min(late.values()) >= 300.0
    # every on-time call that started up to late_s - 30 s after a late one arrived before it
    seen: set[str] = set()
    on_time = []
    for rec in records:  # a resent copy is not on time
        again = rec["record_id"] in seen
        seen.add(rec["record_id"])
        on_time.append(float("inf") if again or rec["record_id"] in late else _ts(rec))
    earliest_after = on_time[:]
    for i in range(len(records) - 2, -1, -1):
        earliest_after[i] = min(on_time[i], earliest_after[i + 1])
    for i, rec in enumerate(records[:-1]):
        if rec["record_id"] in late:
            assert earliest_after[i + 1] > _ts(rec) + late[rec["record_id"]] - 30.0


def test_traps_leave_the_other_records_as_they_were() -> None:
    def others(traffic: Traffic) -> dict[str, dict]:
        return {r["record_id"]: r for r, lab in zip(traffic.records, traffic.labels, strict=True)
                if "trap" not in lab}
    plain = generate_traffic(_config(days=1))
    trapped = generate_traffic(_config(*default_traps("IT", 24.0, START), days=1))
    assert others(plain) == others(trapped)
    assert len(trapped.records) > len(plain.records) + 5000
    assert all("duplicate" not in lab and "late_s" not in lab for lab in plain.labels)


def test_days_makes_48_hours_and_wins_over_hours() -> None:
    parser = __import__("argparse").ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--days", "2", "--hours", "5", "--calls-per-hour", "40",
                              "--all-traps"])
    config = cli.build_config(args)
    assert config.hours == 48.0
    t = generate_traffic(config)
    span = max(map(_ts, t.records)) - min(map(_ts, t.records))
    assert 47 * 3600 < span <= 48 * 3600
    assert cli.build_config(parser.parse_args(["--hours", "5"])).hours == 5.0
    assert cli.build_config(parser.parse_args([])).hours == 24.0


def test_a_trap_parameter_and_an_own_id_come_from_the_command_line() -> None:
    spec = cli.parse_campaign("holiday_surge:factor=2,hours=3,at=18h,id=xmas")
    t = generate_traffic(_config(spec, days=1))
    (summary,) = t.campaigns
    assert summary["id"] == "xmas" and summary["parameters"]["factor"] == 2.0
    assert cli.parse_campaign("duplicates_late:share=0.1").params == {"share": "0.1"}
    with pytest.raises(ValueError, match="at most one delivery trap"):
        generate_traffic(_config(CampaignSpec(name="duplicates_late"),
                                 CampaignSpec(name="duplicates_late", id="again"), days=1))
    assert timedelta(hours=18) == spec.start_offset
