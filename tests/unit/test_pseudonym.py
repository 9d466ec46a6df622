"""Pseudonymised alerts: stable keyed pseudonyms, no phone number left in any field."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from streams.events import Alert
from streams.pseudonym import PREFIX_KEYED, outgoing, pseudonym, pseudonymise
from tests.unit.clirun import ROOT, cdrwatch, one_error_line
from tests.unit.factories import policy

KEY = b"0123456789abcdef-test-key"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NUMBER_KEYED = ("spoof_protected", "spoof_domestic_from_abroad", "spoof_invalid_caller",
                "spoof_lookalike", "spoof_velocity", "fanout_number", "targeted_subscriber")
# What a phone number looks like in any field: `+` and 7+ digits, or 7+ digits in a row
# (separators allowed), outside words and dates.
PHONE = re.compile(r"(?<![\w.:+\-])\+?\d(?:[ \-.()]{0,2}\d){6,}(?![\w:]|[ \-.()]{1,2}\d)")


def alert(detector: str, key: str, explanation: str, **extra: object) -> Alert:
    return Alert(alert_id="08e86805e27cd12ab4dd", detector=detector, severity="high", score=0.9,
                 key=key, window_start=T0, window_end=T0 + timedelta(hours=1),
                 detected_at=T0 + timedelta(minutes=42), observed=1.0,
                 record_ids=["it20261120-0001007"], explanation=explanation, **extra)


def test_a_pseudonym_is_pn_and_16_hex_of_the_hmac_of_the_e164_number() -> None:
    # Pinned: `printf %s +393331234567 | openssl dgst -sha256 -hmac KEY` gives the same digits,
    # so the same number has the same pseudonym in every process and after every restart.
    assert pseudonym("+393331234567", KEY) == "pn:" + _openssl_hmac("+393331234567")[:16]
    assert pseudonym("+393331234567", KEY) == pseudonym("+393331234567", KEY)
    assert pseudonym("+393331234567", KEY) != pseudonym("+393331234568", KEY)


def _openssl_hmac(text: str) -> str:
    import subprocess

    out = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", KEY.decode()], input=text,
                         capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def test_different_keys_give_different_pseudonyms() -> None:
    a = alert("targeted_subscriber", "+393331234567", "+393331234567: 9 distinct callers")
    one, other = pseudonymise(a, KEY), pseudonymise(a, b"another-key-of-16-chars")
    assert one.key != other.key and one.alert_id != other.alert_id
    assert one == pseudonymise(a, KEY)  # and the same key, the same alert


def test_a_number_alert_loses_the_number_everywhere_and_its_alert_id_is_keyed() -> None:
    a = alert("spoof_lookalike", "+8613800138000",
              "caller ID 00 400 681 6666 is built around the digits of protected number "
              "+864006816666 (a look-alike of an official hotline); seen as "
              "sip:+8613800138000@gw and 0086-138-0013-8000 on 2026-11-20T08:42:53+00:00, "
              "last at 2026-11-20T10:36:23.738000+00:00")
    out = pseudonymise(a, KEY, keep={"+864006816666"})
    assert out.key == pseudonym("+8613800138000", KEY)
    assert out.explanation.count(out.key) == 2  # its sip: URI and 0086 form: one pseudonym
    assert "+864006816666" in out.explanation  # the operator's own hotline stays readable
    assert pseudonym("+4006816666", KEY) in out.explanation  # the 00 form read as +
    assert "2026-11-20T08:42:53+00:00" in out.explanation
    assert "2026-11-20T10:36:23.738000+00:00" in out.explanation  # its seconds: no number
    assert out.alert_id != a.alert_id and len(out.alert_id) == len(a.alert_id)
    assert out.record_ids == a.record_ids
    assert not PHONE.findall(out.explanation.replace("+864006816666", ""))


def test_ranges_countries_and_trunks_stay_with_their_alert_id() -> None:
    burst = alert("burst_range", "+6391755", "20 international calls from +6391755 to 12 "
                  "subscribers in 5 min against a baseline of 0.5 per window (threshold 20, "
                  "negative-binomial tail p=1.1e-17)")
    country = alert("burst_country", "+216", "300 international calls from +216 in 5 min")
    trunk = alert("spoof_neighbour", "trunk:INTL-BICS-1", "10 subscribers called with a "
                  "caller ID sharing their first 6 digits")
    for a in (burst, country, trunk):
        assert pseudonymise(a, KEY) == a


def test_a_protected_number_key_stays_readable() -> None:
    a = alert("spoof_protected", "+394010086", "caller ID +394010086 is on the operator's "
              "do-not-originate list, yet it was presented on trunk INTL-TATA-1")
    assert pseudonymise(a, KEY, keep={"+394010086"}) == a
    assert pseudonymise(a, KEY).key == pseudonym("+394010086", KEY)


def test_a_raw_caller_id_key_is_pseudonymised_too() -> None:
    a = alert("spoof_invalid_caller", "raw:12ab", "caller ID '12ab' is not a dialable number "
              "(raw:12ab)")
    out = pseudonymise(a, KEY)
    assert out.key == pseudonym("raw:12ab", KEY) and "raw:12ab" not in out.explanation


_digits = st.text("0123456789", min_size=8, max_size=11).filter(lambda d: d[0] != "0")
_e164 = st.builds(lambda cc, rest: f"+{cc}{rest}", st.sampled_from(["39", "63", "216", "1"]),
                  _digits)


def _spell(number: str, how: int) -> str:
    """A number written as switches and explanations write it."""
    digits = number[1:]
    return [number, f"00{digits}", f"sip:{number}@ims", f"tel:{number}",
            f"+{digits[:2]} {digits[2:5]} {digits[5:]}", f"00{digits[:2]}-{digits[2:]}",
            digits, f"({digits[:3]}) {digits[3:]}"][how]


@settings(max_examples=300, deadline=None)
@given(detector=st.sampled_from(NUMBER_KEYED + tuple(sorted(PREFIX_KEYED))),
       key=_e164, others=st.lists(st.tuples(_e164, st.integers(0, 7)), max_size=4),
       count=st.integers(0, 999_999))
def test_no_phone_number_is_left_in_any_field(detector: str, key: str,
                                              others: list[tuple[str, int]],
                                              count: int) -> None:
    prefix = detector in PREFIX_KEYED
    own = key[:8] if prefix else key
    words = [f"{count} calls from {own} in 5 min", *(_spell(n, how) for n, how in others),
             f"threshold {count / 7:g}, p=1.1e-17, window from 2026-11-20T08:00:00+00:00"]
    out = pseudonymise(alert(detector, own, "; ".join(words)), KEY)
    fields = orjson.loads(out.model_dump_json())
    text = " ".join(str(v) for v in fields.values()).replace("2026-11-20", "")
    found = [f for f in PHONE.findall(text) if not (prefix and f == own)]
    found = [f for f in found if len(re.sub(r"\D", "", f)) > 6 or f.startswith("+")]
    assert found == [], (words, out.explanation)
    assert (out.key == own) is prefix


def test_off_by_default_and_refused_without_a_key() -> None:
    plain = alert("targeted_subscriber", "+393331234567", "+393331234567")
    assert outgoing(policy(), None)(plain) is plain
    on = policy(privacy={"pseudonymise": True})
    assert outgoing(on, SecretStr(KEY.decode()))(plain).key.startswith("pn:")
    try:
        outgoing(on, None)
    except ValueError as exc:
        assert "CDRWATCH_PSEUDONYM_KEY" in str(exc)
    else:
        raise AssertionError("no error without a key")


def _private_policy(tmp_path: Path) -> Path:
    path = tmp_path / "private.toml"
    path.write_text('preset = "it"\nhome_country = "IT"\n[privacy]\npseudonymise = true\n'
                    '[protected_numbers]\nnumbers = ["4010086"]\n'
                    '[trunks]\n"INTL-TATA-1" = "international"\n')
    return path


def test_detect_out_writes_pseudonymised_alerts(tmp_path: Path) -> None:
    """The offline twin of the worker's publish: the same function on the way out."""
    fixture = ROOT / "streams" / "fixtures" / "demo.jsonl"
    policy_file, out, plain = _private_policy(tmp_path), tmp_path / "a.jsonl", tmp_path / "p.jsonl"
    env = {"CDRWATCH_PSEUDONYM_KEY": KEY.decode()}
    proc = cdrwatch("detect", str(fixture), "--policy", str(policy_file), "--out", str(out),
                    env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    keys = {orjson.loads(line)["key"] for line in out.read_bytes().splitlines()}
    assert any(k.startswith("pn:") for k in keys)
    for line in out.read_text().splitlines():
        a = orjson.loads(line)
        rest = line
        for detector, key in ((a["detector"], a["key"]), *(
                [(a["incident"]["detector"], a["incident"]["key"])] if a.get("incident") else [])):
            rest = rest.replace(key, "") if detector in PREFIX_KEYED else rest
        rest = re.sub(r"\d{4}-\d{2}-\d{2}T[\d:.]+(Z|\+00:00)?", "", rest)
        rest = rest.replace("+394010086", "")
        assert not [f for f in PHONE.findall(rest) if f.startswith("+")], line
    # the same alerts as without pseudonyms, one by one through pseudonymise()
    plain_policy = tmp_path / "plain.toml"
    plain_policy.write_text(policy_file.read_text().replace("true", "false"))
    cdrwatch("detect", str(fixture), "--policy", str(plain_policy), "--out", str(plain),
             timeout=300)
    keep = {"+394010086"}
    expected = [pseudonymise(Alert.model_validate_json(line), KEY, keep)
                for line in plain.read_bytes().splitlines()]
    got = [Alert.model_validate_json(line) for line in out.read_bytes().splitlines()]
    assert got == expected


def test_pseudonymise_without_a_key_stops_detect_and_worker_in_one_line(tmp_path: Path) -> None:
    policy_file = _private_policy(tmp_path)
    for args in (("detect", str(ROOT / "streams" / "fixtures" / "demo.jsonl")), ("worker",)):
        proc = cdrwatch(*args, "--policy", str(policy_file))
        assert proc.returncode == 2, proc.stderr
        assert "CDRWATCH_PSEUDONYM_KEY" in one_error_line(proc)
