"""Process tuning the worker applies to Faust and to Python itself."""

from __future__ import annotations

import asyncio
import gc

from streams.faust_config import create_app
from streams.runtime import GEN0_THRESHOLD, tune_gc
from streams.settings import Settings


def _fetch_wait_of(settings: Settings) -> int:
    async def build() -> int:
        app = create_app(settings)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_max_wait_ms
        finally:
            await consumer.stop()

    return asyncio.run(build())


def test_the_consumer_waits_for_data_no_longer_than_configured() -> None:
    # Faust itself would build the consumer with 1500 ms whatever its settings say.
    assert _fetch_wait_of(Settings(app_id="rt-default")) == 20
    assert _fetch_wait_of(Settings(app_id="rt-custom", fetch_max_wait_ms=250)) == 250


def test_gc_tuning_raises_the_young_threshold_and_freezes_start_up_objects() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold()[0] == GEN0_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
