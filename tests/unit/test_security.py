"""One Settings, one set of client arguments: every kafka-python client and Faust agree."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest

from streams.faust_config import _credentials
from streams.security import check_tls, kafka_python_kwargs, ssl_context
from streams.settings import Settings
from tests.certs import make_certs


def test_plaintext_adds_nothing() -> None:
    settings = Settings()
    assert kafka_python_kwargs(settings) == {}
    assert ssl_context(settings) is None and _credentials(settings) is None


def test_ssl_verifies_the_broker_against_the_ca_file(tmp_path: Path) -> None:
    ca = make_certs(tmp_path).ca
    settings = Settings(security_protocol="ssl", ssl_cafile=ca)
    kwargs = kafka_python_kwargs(settings)
    assert kwargs["security_protocol"] == "SSL"
    context = kwargs["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1  # only the given CA, not the system's
    assert "sasl_mechanism" not in kwargs
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SSLCredentials)


def test_sasl_ssl_gives_kafka_python_and_faust_the_same_credentials(tmp_path: Path) -> None:
    ca = make_certs(tmp_path).ca
    settings = Settings(security_protocol="SASL_SSL", sasl_mechanism="scram-sha-512",
                        sasl_username="cdrwatch", sasl_password="s3cr3t", ssl_cafile=ca)
    kwargs = kafka_python_kwargs(settings)
    assert {k: v for k, v in kwargs.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "cdrwatch", "sasl_plain_password": "s3cr3t"}
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.ssl_context is not None and credentials.mechanism.value == "SCRAM-SHA-512"


def test_sasl_plaintext_has_no_tls_context() -> None:
    settings = Settings(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p")
    assert "ssl_context" not in kafka_python_kwargs(settings)
    credentials = _credentials(settings)
    assert isinstance(credentials, faust.SASLCredentials) and credentials.ssl_context is None


def test_an_unknown_protocol_or_mechanism_is_refused() -> None:
    with pytest.raises(ValueError, match="security_protocol"):
        Settings(security_protocol="TLS")
    with pytest.raises(ValueError, match="sasl_mechanism"):
        Settings(sasl_mechanism="GSSAPI")


def test_check_tls_names_the_server_that_does_not_answer(tmp_path: Path) -> None:
    from streams.broker import free_port

    settings = Settings(security_protocol="SSL")
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionError, match=f"TLS to {address}"):
        check_tls(settings, [address], timeout_s=1)
