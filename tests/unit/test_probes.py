"""/livez and /readyz beside /metrics: what each answers, from the worker's last beat."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from streams.probes import Probes, wsgi_app


def get(app, path: str) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    answered: list[str] = []
    body = b"".join(app({"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": ""},
                        lambda status, headers: answered.append(status)))
    return answered[0], body


def test_ready_only_in_the_group_and_alive_only_while_the_loop_beats() -> None:
    probes = Probes(stale_s=30, beat_at=100.0)
    assert probes.answer("/livez", 120.0)[0] == "200 OK"
    assert probes.answer("/readyz", 120.0)[0].startswith("503")  # not in the group yet
    probes.beat(in_group=True, now=125.0)
    assert probes.answer("/readyz", 150.0)[0] == "200 OK"
    stalled = probes.answer("/livez", 156.0)
    assert stalled[0].startswith("503") and b"31 s" in stalled[1]
    assert probes.answer("/readyz", 156.0)[0].startswith("503")  # a stalled loop is not ready
    assert probes.answer("/metrics", 120.0) is None


def test_the_probes_share_the_port_with_the_metrics() -> None:
    registry = CollectorRegistry()
    Counter("cdrwatch_test_things", "things", registry=registry).inc(3)
    probes = Probes()
    probes.beat(in_group=True)
    app = wsgi_app(probes, registry)
    status, body = get(app, "/metrics")
    assert status.startswith("200") and b"cdrwatch_test_things_total 3.0" in body
    assert get(app, "/livez") == ("200 OK", b"alive\n")
    assert get(app, "/readyz") == ("200 OK", b"ready\n")
