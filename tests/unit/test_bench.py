"""Pure helpers of the benchmark script: the bound on c/b and d/a, the scrape pacing."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict
from pathlib import Path

import orjson
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("cdrwatch_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def test_bounds_add_the_mandatory_costs_to_the_floor(bench) -> None:  # type: ignore[no-untyped-def]
    costs = bench.Mandatory(orjson_us=2.0, validate_us=8.0, validate_batched_us=6.0,
                            classify_us=14.0)
    c_over_b, d_over_a = bench.ratio_bounds(costs, a=200_000.0, b=10_000.0)
    assert c_over_b == pytest.approx(100 / (100 - 2 + 8 + 14))  # b: 100 us a message
    assert d_over_a == pytest.approx(1e6 / 20 / 200_000)
    dearer = bench.Mandatory(2.0, 8.0, 6.0, 40.0)
    assert bench.ratio_bounds(dearer, 200_000.0, 10_000.0)[0] < c_over_b
    assert bench.ratio_bounds(costs, None, None) == (None, None)


def test_mandatory_costs_are_timed_on_the_records_given(bench) -> None:  # type: ignore[no-untyped-def]
    values = [orjson.dumps(r) for r in bench.make_records(300, seed=3)]
    costs = bench.mandatory_costs(values, bench.batched(values, 100))
    assert all(v > 0 for v in asdict(costs).values())
    with pytest.raises(RuntimeError, match="1 generated records failed validation"):
        bench.mandatory_costs([*values, b'{"record_id": ""}'], [])


def test_scrapes_are_frequent_only_where_they_set_the_timing(bench) -> None:  # type: ignore[no-untyped-def]
    assert bench.scrape_pause(done=0, left=500_000, elapsed=0.0) == 0.25  # waiting for the start
    assert bench.scrape_pause(done=50_000, left=450_000, elapsed=10.0) == 1.0  # 90 s to go
    assert bench.scrape_pause(done=490_000, left=5_000, elapsed=98.0) == 0.25  # 1 s to go
