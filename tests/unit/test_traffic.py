"""The synthetic traffic generator: deterministic, contract-valid, labelled, realistic."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.events import CallEvent
from streams.numbering import classify
from streams.traffic import (
    SCENARIOS,
    CampaignSpec,
    TrafficConfig,
    cli,
    default_campaigns,
    generate,
    generate_traffic,
)
from streams.traffic.calls import INTL_TRUNKS, TRUNK_KIND
from streams.traffic.campaigns import TRAPS
from streams.traffic.fixtures import DEMO_FILES, FIXTURES, write_demo
from streams.usage import UsageError

START = datetime(2026, 11, 20, tzinfo=UTC)


def _config(home: str = "IT", **kw: object) -> TrafficConfig:
    base = {"home_region": home, "start": START, "hours": 24.0, "calls_per_hour": 300.0,
            "seed": 11, "campaigns": [*default_campaigns(home, 24.0)]}
    if home == "IT":
        base["campaigns"].append(CampaignSpec(name="hotline_lookalike",
                                              start_offset=timedelta(hours=20)))
    return TrafficConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def it() -> tuple[list[dict], list[dict], list[dict]]:
    t = generate_traffic(_config("IT"))
    return t.records, t.labels, t.campaigns


@pytest.fixture(scope="module")
def cn() -> tuple[list[dict], list[dict], list[dict]]:
    t = generate_traffic(_config("CN"))
    return t.records, t.labels, t.campaigns


def _by(records: list[dict], labels: list[dict], scenario: str) -> list[dict]:
    return [r for r, lab in zip(records, labels, strict=True) if lab["scenario"] == scenario]


def test_same_seed_same_output_other_seed_differs() -> None:
    cfg = _config(hours=3.0)
    assert generate(cfg) == generate(cfg)
    assert generate(cfg)[0] != generate(cfg.model_copy(update={"seed": 12}))[0]


def test_every_record_is_a_call_event(it: tuple, cn: tuple) -> None:
    for records, _, _ in (it, cn):
        for rec in records:
            ev = CallEvent.model_validate(rec)
            assert ev.start_time.tzinfo is not None
            assert rec["start_time"].endswith("Z")
            assert ev.answered == ("answer_time" in rec)
            if not ev.answered:
                assert ev.duration_s == 0
            if "ingress_kind" in rec:
                assert rec["ingress_kind"] == TRUNK_KIND[rec["ingress_trunk"]]


def test_labels_cover_every_record_once(it: tuple) -> None:
    records, labels, campaigns = it
    ids = [r["record_id"] for r in records]
    assert ids == [lab["record_id"] for lab in labels]
    assert len(set(ids)) == len(ids)
    for lab in labels:
        assert lab["fraud"] == (lab["scenario"] != "normal") == (lab["campaign"] is not None)
    assert sum(c["calls"] for c in campaigns) == sum(lab["fraud"] for lab in labels)


def test_normal_numbers_are_valid(it: tuple, cn: tuple) -> None:
    for home, (records, labels, _) in (("IT", it), ("CN", cn)):
        normal = _by(records, labels, "normal")
        anonymous = sum(r["calling_number"] == "anonymous" for r in normal)
        assert 0.005 < anonymous / len(normal) < 0.04
        for rec in normal:
            if rec["calling_number"] != "anonymous":
                assert classify(rec["calling_number"], home).valid, rec
            assert classify(rec["called_number"], home).valid, rec


def test_every_campaign_yields_its_labelled_records(it: tuple, cn: tuple) -> None:
    for _, labels, campaigns in (it, cn):
        made = Counter(lab["campaign"] for lab in labels if lab["fraud"])
        assert {c["id"]: c["calls"] for c in campaigns} == dict(made)
        assert all(n > 0 for n in made.values())
    scenarios = {lab["scenario"] for lab in it[1]} | {lab["scenario"] for lab in cn[1]}
    # bare_digit_trunk is opt-in: it changes how a trunk logs numbers (test_formats_e2e.py);
    # traps are not fraud: --all-traps adds them (test_traps.py); wangiri_callbacks is
    # opt-in: its outbound CDRs are a feed an operator may not send (test_callback.py)
    opt_in = {"bare_digit_trunk", "wangiri_callbacks"}
    assert scenarios == {*SCENARIOS, "normal"} - opt_in - TRAPS


def test_bounded_out_of_order_arrival(it: tuple) -> None:
    records, _, _ = it
    newest = datetime.min.replace(tzinfo=UTC)
    worst = 0.0
    disorder = 0
    for rec in records:
        t = datetime.fromisoformat(rec["start_time"])
        if t < newest:
            disorder += 1
            worst = max(worst, (newest - t).total_seconds())
        newest = max(newest, t)
    assert 0 < worst <= 30.0
    assert disorder > len(records) // 100


def test_daily_cycle_quiet_nights(it: tuple) -> None:
    records, labels, _ = it
    hours = Counter(int(r["start_time"][11:13]) for r in _by(records, labels, "normal"))
    night = sum(hours[h] for h in (1, 2, 3, 4))  # 02-05 in Rome
    day = sum(hours[h] for h in (9, 10, 11, 12))
    assert night * 5 < day


def test_roamers_are_flagged_and_spoofers_are_not(it: tuple) -> None:
    records, labels, _ = it
    roam = [r for r, lab in zip(records, labels, strict=True) if lab["component"] == "roamer"]
    assert roam
    for rec in roam:
        assert rec["calling_roaming"] is True
        assert rec["ingress_trunk"] in INTL_TRUNKS
        assert classify(rec["calling_number"], "IT").country_code == 39
    assert all(r.get("calling_roaming") in (True, None) for r in _by(records, labels, "normal"))
    for rec in _by(records, labels, "domestic_from_abroad"):
        assert rec.get("calling_roaming") is not True
        assert rec["ingress_trunk"] in INTL_TRUNKS
        assert classify(rec["calling_number"], "IT").country_code == 39


def test_call_centre_and_enterprise_are_normal(it: tuple) -> None:
    records, labels, _ = it
    comp = Counter(lab["component"] for lab in labels if not lab["fraud"])
    assert comp["call_centre"] > 100 and comp["enterprise"] > 20
    ent = {r["calling_number"] for r, lab in zip(records, labels, strict=True)
           if lab["component"] == "enterprise"}
    assert ent == {"+390212345678"}


def test_scenario_signatures(it: tuple) -> None:
    records, labels, _ = it
    spoof = _by(records, labels, "protected_spoof")
    assert {classify(r["calling_number"], "IT").e164 for r in spoof} == {
        "+394010086", "+393201010086"}
    assert all(r["ingress_trunk"] in INTL_TRUNKS for r in spoof)
    burst = _by(records, labels, "intl_burst")
    assert len({classify(r["calling_number"], "IT").range_key(5) for r in burst}) == 1
    assert len({r["called_number"] for r in burst}) == len(burst) >= 300
    assert sum(r["calling_number"].startswith("00") for r in burst) > len(burst) / 2
    wangiri = _by(records, labels, "wangiri")
    assert all(r["duration_s"] <= 2 and r["release_cause"] in (16, 19, 31) for r in wangiri)
    assert all(not classify(r["calling_number"], "IT").valid
               for r in _by(records, labels, "invalid_caller"))
    assert all(r["verstat"] == "TN-Validation-Failed" for r in _by(records, labels, "stir_failed"))
    for rec in _by(records, labels, "neighbour_spoof"):
        a, b = (classify(rec[k], "IT") for k in ("calling_number", "called_number"))
        assert a.valid and a.nsn[:6] == b.nsn[:6] and a.nsn != b.nsn
    fan = _by(records, labels, "fanout_number")
    assert len({r["calling_number"] for r in fan}) == 1
    bomb = _by(records, labels, "bombarded_subscriber")
    assert len({r["called_number"] for r in bomb}) == 1
    assert len({r["calling_number"] for r in bomb}) > len(bomb) * 0.8


def test_cn_home_field_story(cn: tuple) -> None:
    records, labels, _ = cn
    spoof = _by(records, labels, "protected_spoof")
    assert {classify(r["calling_number"], "CN").e164 for r in spoof} == {"+864006816666"}
    assert sum(r["calling_number"].startswith("00") for r in spoof) > len(spoof) / 3
    look = _by(records, labels, "hotline_lookalike")
    assert all(r["calling_number"].startswith("00") and "4006816666" in r["calling_number"]
               for r in look)
    assert classify(_by(records, labels, "normal")[0]["called_number"], "CN").country_code == 86


def test_campaigns_from_abroad_never_come_from_the_home_country() -> None:
    # fan-out defaults to a GB number and bombarding callers include GB: not for a GB operator
    t = generate_traffic(_config("GB", hours=2.0, campaigns=[
        CampaignSpec(name="fanout_number", start_offset=timedelta(minutes=10)),
        CampaignSpec(name="bombarded_subscriber", start_offset=timedelta(minutes=50)),
        CampaignSpec(name="wangiri", start_offset=timedelta(minutes=70), params={"country": "GB"}),
    ]))
    for scenario in ("fanout_number", "bombarded_subscriber", "wangiri"):
        callers = {classify(r["calling_number"], "GB").country_code
                   for r in _by(t.records, t.labels, scenario)}
        assert callers and 44 not in callers, (scenario, callers)
    (bombarded,) = [c for c in t.campaigns if c["scenario"] == "bombarded_subscriber"]
    assert "GB" not in bombarded["parameters"]["countries"].split("/")  # the sources used


def test_campaign_params_are_checked() -> None:
    bad = _config(hours=2.0, campaigns=[CampaignSpec(name="wangiri", params={"nope": 1})])
    with pytest.raises(ValueError, match="unknown parameter"):
        generate(bad)
    spec = cli.parse_campaign("intl_burst:prefix=+6391755,calls=50,at=30m,id=b1")
    assert spec.params == {"prefix": "+6391755", "calls": "50"}
    assert spec.start_offset == timedelta(minutes=30) and spec.id == "b1"
    t = generate_traffic(_config(hours=2.0, campaigns=[spec]))
    assert t.campaigns[0]["calls"] == 50 and t.campaigns[0]["parameters"]["prefix"] == "+6391755"


def test_cli_writes_records_labels_and_summary(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    out = tmp_path / "events.jsonl"
    args = parser.parse_args(["--start", "2026-11-20T10:00:00+01:00", "--hours", "1",
                              "--calls-per-hour", "500", "--seed", "3",
                              "--campaign", "wangiri:calls=40,at=10m", "--out", str(out)])
    assert cli.run(args) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    labels = (tmp_path / "events.labels.jsonl").read_text().splitlines()
    summary = json.loads((tmp_path / "events.campaigns.json").read_text())
    assert len(records) == len(labels) > 300
    assert summary[0]["scenario"] == "wangiri" and summary[0]["calls"] == 40
    args = parser.parse_args(["--campaign", "wangiri:calls=many", "--out", str(out)])
    with pytest.raises(UsageError, match="calls='many'"):  # main prints it, exit code 2
        cli.run(args)


def test_bundled_demo_fixtures_regenerate_byte_identical(tmp_path: Path) -> None:
    for path in write_demo(tmp_path):
        committed = FIXTURES / path.name
        assert committed.stat().st_size < 3_000_000
        assert path.read_bytes() == committed.read_bytes(), path.name
    labels = [json.loads(x) for x in (FIXTURES / DEMO_FILES[1]).read_text().splitlines()]
    assert 4000 <= len(labels) <= 6000
    assert {"protected_spoof", "intl_burst", "wangiri"} <= {lab["scenario"] for lab in labels}
