"""PrometheusClient and QueryBatch against httpx.MockTransport (no network)."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from canarygate.core import (
    MetricsUnavailable,
    Missing,
    MissingKind,
    NoDataError,
    QueryError,
    QueryKey,
    Role,
)
from canarygate.core.queries import PlannedQuery
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


def vector(*values: str) -> dict[str, object]:
    result = [{"metric": {}, "value": [AT.timestamp(), v]} for v in values]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def client(handler: Handler, **config: object) -> PrometheusClient:
    settings = PrometheusConfig(address="http://prom:9090", backoff=0.0, **config)  # type: ignore[arg-type]
    return PrometheusClient(settings, transport=httpx.MockTransport(handler))


def form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


async def test_instant_query_sends_query_and_time_and_reads_a_vector() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=vector("0.25"))

    async with client(handler) as prom:
        assert await prom.query("sum(rate(x[5m]))", AT) == 0.25
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/api/v1/query"
    assert form(request)["query"] == "sum(rate(x[5m]))"
    assert float(form(request)["time"]) == AT.timestamp()
    # Prometheus accepts only integer durations: "10.0s" would be refused.
    assert re.fullmatch(r"\d+ms", form(request)["timeout"])


async def test_scalar_result() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "3.5"]}}
    async with client(lambda _: httpx.Response(200, json=body)) as prom:
        assert await prom.query("scalar(x)", AT) == 3.5


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (vector(), "no series"),
        (vector("NaN"), "NaN"),
        (vector("+Inf"), "infinity"),
        (vector("-Inf"), "infinity"),
    ],
    ids=["empty", "nan", "inf", "-inf"],
)
async def test_empty_nan_and_inf_are_no_data_never_zero(body: object, match: str) -> None:
    async with client(lambda _: httpx.Response(200, json=body)) as prom:
        with pytest.raises(NoDataError, match=match):
            await prom.query("x", AT)


async def test_several_series_must_be_aggregated() -> None:
    async with client(lambda _: httpx.Response(200, json=vector("1", "2"))) as prom:
        with pytest.raises(QueryError, match="2 series"):
            await prom.query("x", AT)


async def test_bad_query_is_not_retried() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}
        return httpx.Response(400, json=body)

    async with client(handler, retries=3) as prom:
        with pytest.raises(QueryError, match="parse error"):
            await prom.query("sum(", AT)
    assert calls == 1


async def test_server_errors_are_retried_then_reported_unavailable() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, text="overloaded")

    async with client(handler, retries=2) as prom:
        with pytest.raises(MetricsUnavailable, match="after 3 attempt"):
            await prom.query("x", AT)
        assert prom.stats.retries == 2
    assert calls == 3


async def test_a_retry_recovers_from_a_transient_failure() -> None:
    answers = iter([httpx.ConnectError("refused"), httpx.Response(502), vector("7")])

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer)

    async with client(handler, retries=2) as prom:
        assert await prom.query("x", AT) == 7.0


async def test_timeouts_are_bounded_and_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    async with client(handler, retries=1, timeout=0.5) as prom:
        with pytest.raises(MetricsUnavailable, match=r"timed out after 0\.5s"):
            await prom.query("x", AT)


async def test_unauthorised_is_unavailable_not_retried() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401)

    async with client(handler, retries=3) as prom:
        with pytest.raises(MetricsUnavailable, match="credentials"):
            await prom.query("x", AT)
    assert calls == 1


async def test_bearer_token_and_basic_auth_are_sent() -> None:
    headers: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization", ""))
        return httpx.Response(200, json=vector("1"))

    async with client(handler, bearer_token="s3cret") as prom:
        await prom.query("x", AT)
    async with client(handler, basic_auth=("user", "pw")) as prom:
        await prom.query("x", AT)
    assert headers[0] == "Bearer s3cret"
    assert headers[1] == "Basic " + base64.b64encode(b"user:pw").decode()


async def test_no_message_shows_a_secret_even_when_the_server_echoes_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echoed = f"bad header {request.headers['authorization']}"
        return httpx.Response(400, json={"status": "error", "errorType": "x", "error": echoed})

    for secrets in ({"bearer_token": "tok-XYZ"}, {"basic_auth": ("alice", "hunter2")}):
        async with client(handler, **secrets) as prom:
            with pytest.raises(QueryError) as raised:
                await prom.query("x", AT)
        message = str(raised.value)
        assert "bad header" in message
        assert "tok-XYZ" not in message
        assert "hunter2" not in message
        assert base64.b64encode(b"alice:hunter2").decode() not in message
        assert raised.value.query == "x"


async def test_stats_count_queries_requests_and_failures_by_cause() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json=vector("7"))])

    def handler(request: httpx.Request) -> httpx.Response:
        if form(request)["query"] == "bad":
            return httpx.Response(400, json={"status": "error", "error": "no"})
        return next(answers)

    async with client(handler, retries=2) as prom:
        assert await prom.query("x", AT) == 7.0
        with pytest.raises(QueryError):
            await prom.query("bad", AT)
    stats = prom.stats
    assert (stats.queries, stats.requests, stats.retries) == (2, 3, 1)
    assert stats.attempt_failures == {"http-503": 1}
    assert stats.failures == {"refused": 1}
    assert stats.bytes_received > 0


async def test_batch_deduplicates_and_runs_concurrently_under_a_limit() -> None:
    in_flight = 0
    peak = 0
    sent: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        sent.append(form(request)["query"])
        return httpx.Response(200, json=vector("1"))

    config = PrometheusConfig(address="http://prom:9090", max_concurrency=3)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        batch = QueryBatch(prom, AT)
        planned = [PlannedQuery(QueryKey(f"j{i}", Role.GOOD), f"q{i % 10}") for i in range(40)]
        observed = await batch.observe(planned)
    assert len(observed) == 40
    assert sorted(sent) == sorted(f"q{i}" for i in range(10))
    assert (batch.requested, batch.distinct) == (40, 10)
    assert peak <= 3


async def test_batch_turns_failures_into_missing_observations() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = form(request)["query"]
        if query == "empty":
            return httpx.Response(200, json=vector())
        if query == "bad":
            return httpx.Response(422, json={"status": "error", "error": "no", "errorType": "x"})
        return httpx.Response(503)

    async with client(handler, retries=0) as prom:
        observed = await QueryBatch(prom, AT).observe(
            [PlannedQuery(QueryKey(q, Role.CANARY), q) for q in ("empty", "bad", "down")]
        )
    kinds = {
        key.subject: value.kind for key, value in observed.items() if isinstance(value, Missing)
    }
    assert kinds == {
        "empty": MissingKind.NO_DATA,
        "bad": MissingKind.QUERY_ERROR,
        "down": MissingKind.UNREACHABLE,
    }


def test_non_json_answer_is_unavailable() -> None:
    async def run() -> None:
        async with client(lambda _: httpx.Response(200, text="<html>proxy</html>")) as prom:
            await prom.query("x", AT)

    with pytest.raises(MetricsUnavailable, match="not JSON"):
        asyncio.run(run())


async def test_a_dead_prometheus_opens_the_breaker_so_queued_queries_fail_fast() -> None:
    calls = 0
    alive = False

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if not alive:
            raise httpx.ConnectTimeout("blackholed", request=request)
        return httpx.Response(200, json=vector("1"))

    async with client(handler, retries=1, max_concurrency=1, breaker_cooldown=0.2) as prom:
        outcomes = await asyncio.gather(
            *(prom.query(f"q{i}", AT) for i in range(20)), return_exceptions=True
        )
        assert all(isinstance(o, MetricsUnavailable) for o in outcomes)
        # Two failures in sequence (retries + 1) opened the breaker; the queries queued
        # behind them failed at once instead of each waiting out its own timeouts.
        assert calls == 2
        assert any("not sent (circuit breaker open" in str(o) for o in outcomes)
        assert prom.stats.breaker_opened == 1
        assert prom.stats.failures.get("fail-fast", 0) >= 19
        alive = True
        await asyncio.sleep(0.25)
        assert await prom.query("q", AT) == 1.0
