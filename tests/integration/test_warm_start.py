"""A worker started from a baseline (CDRWATCH_BASELINE) alerts like `detect --baseline`."""

from __future__ import annotations

from pathlib import Path

import orjson

from streams.detect.baseline import read, seeds
from streams.detect.engine import run_offline
from streams.detect.families import build_families
from streams.policy import load_policy
from tests.conftest import consume, replay_complete
from tests.unit.clirun import cdrwatch
from tests.unit.test_baseline import next_morning, recorded_day

POLICY = 'home_country = "IT"\n[trunks]\n"INTL-BICS-1" = "international"\n'


def test_a_worker_warm_started_from_a_baseline_alerts_on_the_next_days_first_campaign(
        make_worker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pol, day1, day2 = tmp_path / "p.toml", tmp_path / "day1.jsonl", tmp_path / "day2.jsonl"
    pol.write_text(POLICY)
    day1.write_text("".join(c.model_dump_json() + "\n" for c in recorded_day()))
    day2.write_text("".join(c.model_dump_json() + "\n" for c in next_morning()))
    baseline = tmp_path / "baseline"
    learned = cdrwatch("baseline", "learn", str(day1), "--out", str(baseline), "--policy", str(pol))
    assert learned.returncode == 0, learned.stderr

    worker = make_worker(policy=pol, CDRWATCH_BASELINE=str(baseline))
    replay_complete([day2], worker)
    lines = [orjson.loads(v) for v in consume(worker.bootstrap, worker.names["alerts"], idle_s=6)]
    # An open line's figure is what the worker had when the window crossed, which batching
    # decides; the later lines' figures are the closed windows' and must match.
    got = sorted((a["alert_id"], a["status"], None if a["status"] == "open" else a["observed"])
                 for a in lines)

    policy = load_policy(pol)
    warm = seeds(read(baseline), build_families(policy), "IT")[0]
    offline = run_offline(next_morning(), policy, seeds=warm).alerts
    assert got == sorted((a.alert_id, a.status, None if a.status == "open" else a.observed)
                         for a in offline)
    assert ("burst_country", "open") in {(a["detector"], a["status"]) for a in lines}
