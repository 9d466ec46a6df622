"""How every Kafka client cdrwatch builds reaches the cluster, from one `Settings`: the
worker (Faust, aiokafka), and the kafka-python clients of `replay`, the topic admin and the
demo's consumer. One place, so that a client cannot be left on plaintext while the worker
speaks TLS and SASL."""

from __future__ import annotations

import os
import socket
import ssl
from typing import Any

from streams.settings import Settings


def unreadable_ca(settings: Settings) -> str | None:
    """Why CDRWATCH_SSL_CAFILE cannot be used, if it cannot: checked by the commands before
    they connect (ssl would raise a bare FileNotFoundError deep in a client's start), not
    when the settings load, so that a manifest's settings parse on any machine."""
    path = settings.ssl_cafile
    if path is None or (path.is_file() and os.access(path, os.R_OK)):
        return None
    return f"CDRWATCH_SSL_CAFILE {path} is not a readable file"


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of the SSL and SASL_SSL protocols (None otherwise): the system's CAs,
    or only `CDRWATCH_SSL_CAFILE`'s when it is set; the broker's name is always checked."""
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    cafile = str(settings.ssl_cafile) if settings.ssl_cafile else None
    return ssl.create_default_context(cafile=cafile)


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of a kafka-python client (KafkaProducer, KafkaConsumer,
    KafkaAdminClient) for the cluster's security; empty for PLAINTEXT."""
    proto = settings.security_protocol
    if proto == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": proto}
    context = ssl_context(settings)
    if context is not None:
        kwargs["ssl_context"] = context
    if proto.startswith("SASL_"):
        password = settings.sasl_password
        kwargs.update(sasl_mechanism=settings.sasl_mechanism,
                      sasl_plain_username=settings.sasl_username,
                      sasl_plain_password=password.get_secret_value() if password else None)
    return kwargs


def check_tls(settings: Settings, bootstrap: list[str], timeout_s: float = 5.0) -> None:
    """Raise ConnectionError with one readable line when the first bootstrap server does not
    complete a TLS handshake with our context (an unknown CA, a name mismatch, a plaintext
    listener). kafka-python only retries such a failure until its bootstrap times out, and
    then says no more than "NoBrokersAvailable"."""
    context = ssl_context(settings)
    if context is None or not bootstrap:
        return
    host, _, port = bootstrap[0].rpartition(":")
    host = host.strip("[]")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s) as raw, \
                context.wrap_socket(raw, server_hostname=host):
            return
    except ssl.SSLCertVerificationError as exc:
        hint = ("; set CDRWATCH_SSL_CAFILE to the CA that signed the broker's certificate"
                if settings.ssl_cafile is None else "")
        raise ConnectionError(f"TLS to {bootstrap[0]}: the broker's certificate was refused "
                              f"({exc.verify_message}){hint}") from None
    except ssl.SSLError as exc:
        raise ConnectionError(f"TLS to {bootstrap[0]}: handshake failed ({exc.reason or exc}): "
                              "is the listener TLS?") from None
    except OSError as exc:
        raise ConnectionError(f"TLS to {bootstrap[0]}: {exc.strerror or exc}") from None
