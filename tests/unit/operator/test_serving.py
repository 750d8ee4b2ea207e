"""The operator's probes and metrics page: readiness waits for the first complete list,
liveness fails when the loops stop coming round, /metrics is Prometheus' text format."""

from __future__ import annotations

import time

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry, Counter

from canarygate.operator.serving import make_app, parse_address


async def client_for(**options: object) -> TestClient[object, object]:
    client: TestClient[object, object] = TestClient(TestServer(make_app(**options)))  # type: ignore[arg-type]
    await client.start_server()
    return client


async def test_readiness_is_false_until_the_first_complete_list() -> None:
    listed = False
    client = await client_for(
        registry=CollectorRegistry(), ready=lambda: listed, last_loop=time.monotonic
    )
    try:
        before = await client.get("/readyz")
        assert before.status == 503
        assert "first list" in await before.text()
        listed = True
        after = await client.get("/readyz")
        assert after.status == 200
    finally:
        await client.close()


async def test_liveness_is_false_once_the_loop_has_not_come_round_for_too_long() -> None:
    last = time.monotonic()
    client = await client_for(
        registry=CollectorRegistry(), ready=lambda: True, last_loop=lambda: last, stuck_after=60
    )
    try:
        assert (await client.get("/healthz")).status == 200
        last = time.monotonic() - 61
        stuck = await client.get("/healthz")
        assert stuck.status == 503
        assert "stuck for 61s" in await stuck.text()
    finally:
        await client.close()


async def test_metrics_are_served_in_the_text_format_on_their_own_address() -> None:
    registry = CollectorRegistry()
    Counter("canarygate_things", "Things.", registry=registry).inc(3)
    client = await client_for(
        registry=registry, ready=lambda: True, last_loop=time.monotonic, health=False
    )
    try:
        page = await client.get("/metrics")
        assert page.status == 200
        assert page.headers["Content-Type"].startswith("text/plain")
        assert "canarygate_things_total 3.0" in await page.text()
        assert (await client.get("/healthz")).status == 404  # probes live elsewhere
    finally:
        await client.close()


def test_listen_addresses() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address(":9090") == ("0.0.0.0", 9090)
    assert parse_address("[::1]:8081") == ("::1", 8081)
