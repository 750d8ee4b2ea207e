"""The circuit breaker counts failures in sequence, not in parallel: queries failing together
are one failed round, so they do not open it and their retries still happen."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx

from canarygate.core import MetricsUnavailable
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.metrics.breaker import CircuitBreaker

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
SCALAR = {"status": "success", "data": {"resultType": "scalar", "result": [1, "1"]}}


async def test_five_parallel_503s_are_one_round_and_every_retry_happens() -> None:
    attempts: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        query = request.content.decode()
        attempts[query] = attempts.get(query, 0) + 1
        await asyncio.sleep(0.05)  # all five are in flight together
        if attempts[query] == 1:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json=SCALAR)

    config = PrometheusConfig(address="http://prom", retries=2, backoff=0.01)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        values = await asyncio.gather(*(prom.query(f"q{i}", AT) for i in range(5)))
    assert values == [1.0] * 5
    assert sorted(attempts.values()) == [2] * 5
    assert prom.stats.retries == 5
    assert prom.stats.failures == {}
    assert prom.stats.breaker_opened == 0


def test_failures_that_overlap_the_last_counted_one_do_not_count() -> None:
    now = 0.0
    breaker = CircuitBreaker(threshold=2, cooldown=60, clock=lambda: now)
    starts = [breaker.attempt_started() for _ in range(5)]  # five in flight at t=0
    now = 1.0
    for started in starts:
        breaker.failed(started, "HTTP 503")
    assert breaker.open_reason() is None  # one round
    second = breaker.attempt_started()
    now = 2.0
    breaker.failed(second, "HTTP 503")
    assert breaker.open_reason() is None  # two rounds: still below the threshold
    third = breaker.attempt_started()
    now = 3.0
    breaker.failed(third, "HTTP 503")
    reason = breaker.open_reason()
    assert reason is not None
    assert "3 failed rounds in a row" in reason
    now = 63.5
    assert breaker.open_reason() is None


def test_a_success_resets_the_count() -> None:
    now = 0.0
    breaker = CircuitBreaker(threshold=1, cooldown=60, clock=lambda: now)
    breaker.failed(breaker.attempt_started(), "timeout")
    breaker.succeeded()
    now = 1.0
    breaker.failed(breaker.attempt_started(), "timeout")
    assert breaker.open_reason() is None


def test_retry_after_keeps_the_breaker_open_at_least_that_long() -> None:
    now = 0.0
    breaker = CircuitBreaker(threshold=0, cooldown=5, clock=lambda: now)
    breaker.failed(breaker.attempt_started(), "HTTP 503", retry_after=40)
    now = 39.0
    reason = breaker.open_reason()
    assert reason is not None
    assert "Retry-After" in reason
    now = 40.5
    assert breaker.open_reason() is None


async def test_an_open_breaker_fails_queued_queries_fast_and_names_retry_after() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(503, headers={"Retry-After": "120"})

    config = PrometheusConfig(address="http://prom", retries=0, max_concurrency=1)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        outcomes = await asyncio.gather(
            *(prom.query(f"q{i}", AT) for i in range(10)), return_exceptions=True
        )
    assert all(isinstance(o, MetricsUnavailable) for o in outcomes)
    assert calls == 1
    assert "Retry-After" in str(outcomes[-1])
    assert prom.stats.breaker_opened == 1
    assert prom.stats.failures == {"unavailable": 1, "fail-fast": 9}
