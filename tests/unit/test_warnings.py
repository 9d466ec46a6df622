"""Subscriber warnings: once per subscriber and incident, capped per local day, never for
an allowlisted caller or a call not answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from streams.events import CallVerdict
from streams.settings import DEFAULT_POLICY
from streams.warnings import Book, Warner, decide, dump_book, load_book, warning_id
from tests.unit.clirun import cdrwatch
from tests.unit.factories import policy
from tests.unit.test_verdicts import FIXTURES

T = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)


def verdict(alert: str = "a1", subscriber: str = "+393331234567", at: datetime = T,
            **fields: object) -> CallVerdict:
    base: dict[str, object] = {
        "record_id": f"r-{alert}-{at.timestamp():.0f}", "detector": "burst_range",
        "alert_id": alert, "severity": "high", "key": "+6391755", "subscriber": subscriber,
        "caller": "+639175512345", "call_time": at, "answered": True, "duration_s": 40.0}
    return CallVerdict.model_validate({**base, **fields})


def test_one_warning_per_subscriber_and_incident() -> None:
    warner = Warner(policy())
    first = warner.see(verdict(at=T))
    assert first is not None and first.warning_id == warning_id("+393331234567", "a1")
    assert warner.see(verdict(at=T + timedelta(minutes=3))) is None  # same incident
    assert warner.see(verdict(subscriber="+393339999999")) is not None  # someone else
    assert warner.outcomes == {"issued": 2, "already_warned": 1}


def test_the_daily_cap_counts_in_the_policys_local_day() -> None:
    """22:30 UTC is 23:30 in Rome: the third and fourth incident fall on the next local day
    when the clock passes midnight there, not in UTC."""
    pol = policy(timezone="Europe/Rome", actions={"warn_daily_cap": 2})
    warner = Warner(pol)
    got = [warner.see(verdict(alert=f"a{i}", at=T + timedelta(minutes=10 * i)))
           for i in range(5)]  # 23:30, 23:40, 23:50 local, then 00:00 and 00:10
    assert [w is not None for w in got] == [True, True, False, True, True]
    assert warner.outcomes["daily_cap"] == 1


def test_no_warning_for_an_unanswered_short_or_allowlisted_call() -> None:
    pol = policy(actions={"warn_min_talk_s": 10})
    warner = Warner(pol)
    assert warner.see(verdict(answered=False)) is None
    assert warner.see(verdict(alert="a2", duration_s=5.0)) is None
    assert warner.see(verdict(alert="a3", caller="+390699999999")) is None  # allowlisted
    assert warner.outcomes == {"short_call": 2, "allowlisted": 1}


def test_the_reason_comes_from_the_policys_template_in_its_language() -> None:
    pol = policy(timezone="Europe/Rome", actions={"warn_language": "it"})
    spoof = decide(Book(), verdict(detector="spoof_protected", caller="+390612345678"), pol)[0]
    assert spoof is not None and spoof.language == "it"
    assert spoof.reason.startswith("La chiamata delle 23:30 da +390612345678 non proveniva")
    burst = decide(Book(), verdict(), pol)[0]
    assert burst is not None and "campagna" in burst.reason


def test_a_book_survives_its_changelog_and_forgets_old_incidents() -> None:
    pol = policy()
    book = Book()
    decide(book, verdict(alert="old", at=T - timedelta(days=8)), pol)
    book = load_book(dump_book(book))
    assert "old" in book.incidents
    decide(book, verdict(alert="new", at=T), pol)
    assert set(book.incidents) == {"new"} and len(book.days) == 1


def test_detect_writes_warnings_for_answered_calls_of_incidents(tmp_path) -> None:  # type: ignore[no-untyped-def]
    verdicts, warnings = tmp_path / "v.jsonl", tmp_path / "w.jsonl"
    done = cdrwatch("detect", str(FIXTURES / "burst_campaigns.jsonl"), "--verdicts",
                    str(verdicts), "--warnings", str(warnings))
    assert done.returncode == 0, done.stderr
    marked = [orjson.loads(line) for line in verdicts.read_bytes().splitlines()]
    warned = [orjson.loads(line) for line in warnings.read_bytes().splitlines()]
    answered = {(v["subscriber"], v["alert_id"]) for v in marked if v["answered"]}
    assert warned and {(w["subscriber"], w["alert_id"]) for w in warned} <= answered
    assert len({w["warning_id"] for w in warned}) == len(warned)
    per_day: dict[tuple[str, str], int] = {}
    for w in warned:
        day = (w["subscriber"], w["first_contact"][:10])
        per_day[day] = per_day.get(day, 0) + 1
    assert max(per_day.values()) <= 3
    capped = {s for (s, a) in answered} - {w["subscriber"] for w in warned}
    assert not capped  # every answered subscriber hears of at least one incident
    assert f"{len(warned)} subscribers warned" in done.stdout


def test_detect_warns_nobody_when_the_policy_does_not_warn(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pol, warnings = tmp_path / "p.toml", tmp_path / "w.jsonl"
    text = DEFAULT_POLICY.read_text()
    assert "\nwarn = true\n" in text
    pol.write_text(text.replace("\nwarn = true\n", "\nwarn = false\n"))
    done = cdrwatch("detect", str(FIXTURES / "burst_campaigns.jsonl"), "--policy", str(pol),
                    "--warnings", str(warnings))
    assert done.returncode == 0, done.stderr
    assert warnings.read_bytes() == b""  # as the worker, which sends none
    assert "[actions] warn is false" in done.stderr
