"""Regenerate the bundled demo fixtures: `python -m streams.traffic.fixtures [--check]`.

The demo is three Italian morning hours (~5,000 calls) with the DESIGN.md field stories:
the operator's customer-service numbers on international trunks, a "00" burst from one
Philippine range to hundreds of subscribers, and a wangiri run some of whose victims call the
missed number back; beside them a trap, an Albanian call centre's first morning, which a
detector that has never seen its range calls a burst and an analyst calls a false alarm
(`demo.feedback.jsonl`, the analysts' verdicts the demo gives; written with `cdrwatch feedback
--out` on the alert ids `cdrwatch detect` reports, and checked against them by a test). A
test proves that regenerating gives byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streams.traffic.config import CampaignSpec, TrafficConfig
from streams.traffic.generate import Traffic, generate_traffic
from streams.traffic.writer import write_jsonl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DEMO_FILES = ("demo.jsonl", "demo.labels.jsonl", "demo.campaigns.jsonl")

DEMO_CONFIG = TrafficConfig(
    home_region="IT",
    start=datetime(2026, 11, 20, 8, 0, tzinfo=UTC),  # 09:00 in Rome
    hours=3.0,
    calls_per_hour=850,
    international_share=0.08,
    seed=20261120,
    max_lateness_s=30.0,
    campaigns=[
        CampaignSpec(name="protected_spoof", id="protected-spoof-4010086",
                     start_offset=timedelta(minutes=40), params={"calls": 60, "minutes": 40}),
        CampaignSpec(name="intl_burst", id="burst-ph-6391755",
                     start_offset=timedelta(minutes=95),
                     params={"prefix": "+6391755", "calls": 300, "minutes": 8, "numbers": 40}),
        CampaignSpec(name="wangiri_callbacks", id="wangiri-tn",
                     start_offset=timedelta(minutes=140),
                     params={"calls": 120, "minutes": 20, "numbers": 25,
                             "callback_share": 0.08, "within_h": 0.5}),
        # Legitimate, and new: the first morning of an outsourced call centre's contract.
        CampaignSpec(name="foreign_call_centre", id="call-centre-al",
                     start_offset=timedelta(minutes=20),
                     params={"calls_per_day": 800, "hours": 1.5}),
    ],
)


def demo_traffic() -> Traffic:
    return generate_traffic(DEMO_CONFIG)


def write_traffic(traffic: Traffic, paths: Sequence[Path]) -> list[Path]:
    """The generator's three outputs (records, labels, campaigns) into `paths`, in that order."""
    for path, rows in zip(paths, (traffic.records, traffic.labels, traffic.campaigns),
                          strict=True):
        write_jsonl(path, rows, progress=False)
    return list(paths)


def write_demo(directory: Path = FIXTURES) -> list[Path]:
    """Write the three demo files into `directory`; returns their paths."""
    return write_traffic(demo_traffic(), [directory / name for name in DEMO_FILES])


def stale(build: Callable[[Path], list[Path]], directory: Path) -> list[str]:
    """Names of committed files in `directory` that differ from (or are missing beside) what
    `build` writes into a fresh directory."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for fresh in build(Path(tmp)):
            committed = directory / fresh.name
            if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
                out.append(fresh.name)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=FIXTURES)
    parser.add_argument("--check", action="store_true",
                        help="regenerate into a temp dir and compare with the committed files")
    args = parser.parse_args(argv)
    if not args.check:
        for path in write_demo(args.out_dir):
            print(f"wrote {path} ({path.stat().st_size:,} bytes)")
        return 0
    names = stale(write_demo, args.out_dir)
    for name in names:
        print(f"{name} differs from a fresh regeneration", file=sys.stderr)
    return 1 if names else 0


if __name__ == "__main__":
    sys.exit(main())
