"""A publish cancelled halfway (a SIGTERM) leaves the keyed states ahead of what reached the
broker: no write round may then put them on the changelog, nor ack the events it holds.

Found on the real broker: a write round still pending at a SIGTERM wrote the state of a fold
whose warning candidates were never sent, and the next worker skipped those calls as already
folded (84 warnings short in a second-worker run, its verdicts all there).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import streams.app  # noqa: F401  (the app first: the agents import it)
from streams.agents import keyed
from streams.detect.keyed import KeyedStates
from streams.detect.windowed import Item
from streams.events import Alert


def _alert() -> Alert:
    return Alert.model_validate({
        "alert_id": "a" * 20, "detector": "spoof_protected", "severity": "high", "score": 0.9,
        "key": "+390000", "window_start": "2026-11-20T10:00:00Z",
        "window_end": "2026-11-20T11:00:00Z", "detected_at": "2026-11-20T10:00:00Z",
        "observed": 1, "explanation": "x"})


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """The keyed agent's module with a changed key, a broker that never answers an alert,
    and a record of what it writes and acks."""
    seen: dict[str, list[Any]] = {"changelog": [], "acked": []}
    states = KeyedStates(keyed.engine.families, 86400.0)
    states.fold("burst_range", "+6391712", [Item(1.0e9, "r1", "+639171200", "+39331",
                                                 10.0, True)], None, 0)
    monkeypatch.setattr(keyed, "states", states)
    monkeypatch.setattr(keyed, "_sealed", False)
    monkeypatch.setattr(keyed, "_unwritten", ["an event folded before"])

    async def never(**_: Any) -> None:
        await asyncio.Event().wait()

    async def changelog(*args: Any) -> asyncio.Future[None]:
        seen["changelog"].append(args)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    monkeypatch.setattr(keyed.alerts_topic, "send", never)
    monkeypatch.setattr(keyed.app.producer, "send", changelog)
    monkeypatch.setattr(keyed, "handled", seen["acked"].extend)
    monkeypatch.setattr(keyed, "privacy", lambda a: a)
    return seen


def test_after_a_cancelled_publish_no_state_is_written_and_nothing_acked(worker) -> None:
    async def run() -> None:
        task = asyncio.ensure_future(keyed.publish([_alert()], []))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await keyed.write_round()

    asyncio.run(run())
    assert worker["changelog"] == [] and worker["acked"] == []
    assert keyed._unwritten == ["an event folded before"]  # read again by the next reader


def test_without_a_cancelled_publish_the_round_writes_and_acks(worker) -> None:
    asyncio.run(keyed.write_round())
    assert len(worker["changelog"]) == 1 and worker["acked"] == ["an event folded before"]
