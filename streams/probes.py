"""Liveness and readiness beside /metrics, on the same port.

`/livez` answers 200 while the worker's event loop still turns (a timer beats every second;
a loop stuck in a long call or a deadlock stops it); `/readyz` answers 200 while the worker
is also in its consumer group with events partitions assigned and no rebalance or changelog
recovery running. Every other path is Prometheus' exposition, as before.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

# The longest a live worker's loop goes without a beat: the fold of one large keyed message
# or a long garbage collection takes well under a second.
STALE_S = 30.0


@dataclass
class Probes:
    """What the last beat of the worker's loop said, and when."""

    stale_s: float = STALE_S
    beat_at: float = field(default_factory=time.monotonic)
    in_group: bool = False

    def beat(self, in_group: bool, now: float | None = None) -> None:
        self.beat_at = time.monotonic() if now is None else now
        self.in_group = in_group

    def answer(self, path: str, now: float) -> tuple[str, bytes] | None:
        """(status, body) for a probe path, None for anything else."""
        alive = now - self.beat_at <= self.stale_s
        if path == "/livez":
            return ("200 OK", b"alive\n") if alive else (
                "503 Service Unavailable", b"event loop has not turned for %.0f s\n"
                % (now - self.beat_at))
        if path == "/readyz":
            if alive and self.in_group:
                return "200 OK", b"ready\n"
            why = b"not in the group with partitions assigned" if alive else b"not alive"
            return "503 Service Unavailable", why + b"\n"
        return None


Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(probes: Probes, registry: CollectorRegistry) -> Wsgi:
    exposition = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = probes.answer(environ.get("PATH_INFO", ""), time.monotonic())
        if found is None:
            return exposition(environ, start_response)
        status, body = found
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                                ("Content-Length", str(len(body)))])
        return [body]

    return app


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes and probes every few seconds are not worth a log line."""


def serve(probes: Probes, registry: CollectorRegistry, port: int, host: str) -> None:
    """Serve metrics and probes from a daemon thread; port 0 serves nothing. The server is
    prometheus_client's own, in the address family of `host` (an IPv6 address works), as
    `start_http_server` does it."""
    if not port:
        return
    family, *_ = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                    flags=socket.AI_PASSIVE)[0]
    server_class = type("ProbeServer", (ThreadingWSGIServer,), {"address_family": family})
    server = make_server(host, port, wsgi_app(probes, registry), server_class,
                         handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
