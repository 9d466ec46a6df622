"""The committed labelled fixtures are exactly what `python -m tests.fixtures.build` writes."""

from __future__ import annotations

import orjson

from tests.fixtures import build

MB = 1_000_000
SIZE_CAP = {"normal_day": 5 * MB}  # a whole day; every other fixture stays under 1 MB


def test_committed_fixtures_equal_a_fresh_regeneration() -> None:
    assert build.stale() == [], "run `python -m tests.fixtures.build` and commit the result"


def test_fixtures_stay_small_and_labelled_one_to_one() -> None:
    for name, fixture in build.FIXTURES.items():
        events, labels, _ = fixture.files()
        assert events.stat().st_size < SIZE_CAP.get(name, MB), name
        ids = [orjson.loads(line)["record_id"] for line in events.read_bytes().splitlines()]
        labelled = [orjson.loads(line)["record_id"] for line in labels.read_bytes().splitlines()]
        assert ids == labelled and len(set(ids)) == len(ids), name
