"""`cdrwatch replay` against the embedded broker: JSONL, CSV, invalid lines, pacing."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from streams.broker import ensure_topics
from streams.cli import main
from streams.events import decode_message
from streams.replay import replay
from tests.conftest import consume

pytestmark = pytest.mark.integration

REC = {"record_id": "a", "start_time": "2026-11-20T10:00:00Z", "duration_s": 3,
       "answered": True, "calling_number": "+393201010086", "called_number": "3331234567",
       "ingress_trunk": "INTL-BICS-1"}


def records(values: list[bytes]) -> list[bytes]:
    """The messages that are not the watermark replay sends after each file."""
    return [v for v in values if decode_message(v).watermark is None]


@pytest.fixture
def topic(broker) -> str:
    name = f"replay-{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, [name], 1)
    return name


def test_invalid_lines_are_sent_as_is_and_reported_with_line_numbers(broker, topic: str,
                                                                     tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([
        orjson.dumps(REC), b"{broken", b"",
        orjson.dumps([REC, {**REC, "record_id": "b"}]),
        orjson.dumps({**REC, "duration_s": "long"}),
    ]))
    report = replay([path], broker.bootstrap, topic, progress=False)
    assert report.sent == 4 and report.skipped == 0
    assert [(line, reason.split(":")[0]) for _, line, reason in report.invalid] == [
        (2, "not JSON"), (5, "invalid record")]
    values = consume(broker.bootstrap, topic, until=4)
    assert values[1] == b"{broken"                       # exactly what production would send
    assert len(orjson.loads(values[2])) == 2             # the array stays one message


def test_skip_invalid_drops_bad_lines(broker, topic: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(orjson.dumps(REC) + b"\nnot json\n" + orjson.dumps(REC))
    report = replay([path], broker.bootstrap, topic, skip_invalid=True, progress=False)
    assert (report.sent, report.skipped) == (2, 1)
    assert len(records(consume(broker.bootstrap, topic, until=3))) == 2


def test_csv_with_header_becomes_typed_json_records(broker, topic: str, tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(
        "record_id,start_time,duration_s,answered,calling_number,called_number,ingress_trunk,"
        "calling_roaming\n"
        "c1,2026-11-20T10:00:00Z,12.5,true,+393201010086,3331234567,INTL-BICS-1,\n"
        "c2,2026-11-20T10:00:05Z,0,false,0063917551234,3331234568,INTL-BICS-1,1\n")
    report = replay([path], broker.bootstrap, topic, progress=False)
    assert report.sent == 2 and report.invalid == []
    first, second = (orjson.loads(v) for v in records(consume(broker.bootstrap, topic, until=3)))
    assert first["duration_s"] == 12.5 and first["answered"] is True
    assert "calling_roaming" not in first and second["calling_roaming"] is True


def test_speed_paces_by_event_time(broker, topic: str, tmp_path: Path) -> None:
    path = tmp_path / "paced.jsonl"
    path.write_bytes(orjson.dumps(REC) + b"\n" + orjson.dumps(
        {**REC, "record_id": "b", "start_time": "2026-11-20T10:00:20Z"}))
    started = time.monotonic()
    replay([path], broker.bootstrap, topic, speed=10, progress=False)
    assert 1.8 <= time.monotonic() - started < 10  # 20 s of event time at 10x


def test_replay_command_line(broker, topic: str, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.jsonl"
    path.write_bytes(orjson.dumps(REC) + b"\n[]")
    with pytest.raises(SystemExit) as done:
        main(["replay", str(path), "--broker", broker.url, "--events-topic", topic])
    assert done.value.code == 0
    out = capsys.readouterr()
    assert "replayed 2 messages" in out.out and f"{path}:2: invalid record" in out.err


class _SteppingClock:
    """A clock that moves 0.4 ms at every reading, as a busy machine's does between two."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 0.0004
        return self.now


class _RecordingStop(threading.Event):
    """The replay's stop event, recording every wait the pacer asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout if timeout is not None else float("inf"))
        return False


def test_pacing_never_sleeps_a_negative_time_when_the_clock_moves_on(
        broker, topic: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import streams.replay

    path = tmp_path / "paced.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps({**REC, "record_id": f"r{i}",
                                              "start_time": f"2026-11-20T10:00:0{i}Z"})
                                for i in range(4)))
    clock = _SteppingClock()
    monkeypatch.setattr(streams.replay, "time", clock)
    stop = _RecordingStop()
    report = replay([path], broker.bootstrap, topic, speed=1000.0, progress=False, stop=stop)
    assert report.sent == 4
    assert stop.waits and all(s > 0 for s in stop.waits)
