"""A TLS listener in front of the embedded broker, for tests of the clients' TLS.

Tansu 0.6.0 cannot serve TLS itself: its `--cert` and `--key` belong to one clap argument
group, so giving both is refused ("the argument '--cert <CERT>' cannot be used with
'--key <KEY>'"), and it builds a TLS listener only when both are given (`--cert` alone
starts a plaintext one). So TLS is terminated here, as a load balancer or a sidecar would in
front of a broker, and every byte goes on to Tansu unchanged: the clients speak real TLS to
this port, and the broker advertises this port, so every connection comes through it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path


class TlsFront:
    """Accepts TLS on `port` (loopback) and relays each connection to `upstream_port`."""

    def __init__(self, cert: Path, key: Path, port: int, upstream_port: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.port, self.upstream_port = port, upstream_port
        self._server = socket.create_server(("127.0.0.1", port))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="tls-front")

    def start(self) -> TlsFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        self._thread.join(timeout=2)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        """Handshake (a client that refuses our certificate just goes away), then relay."""
        try:
            tls = self.context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            tls.close()
            return
        threading.Thread(target=_pump, args=(upstream, tls), daemon=True).start()
        _pump(tls, upstream)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy until either side closes, then close both (the other pump then ends too)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.close()
