"""Deadlines: `timeout` bounds each attempt as a whole (connect, send, the entire body) and
`query_deadline` bounds a query with all its retries and waits. These are no-hang tests
against a real socket server that drips its answer; their bounds are deliberately generous."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from canarygate.core import MetricsUnavailable
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.metrics.pacing import retry_after_seconds

from .servers import dripping, serving

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
# A dripping answer that would hold a per-read timeout for 10,000 x 0.05 s = 500 s.
DRIP = dripping(size=10_000, every=0.05)
NO_HANG = 30.0  # seconds; the expected figure is about 1 s


async def timed_query(config: PrometheusConfig) -> tuple[float, BaseException]:
    started = time.monotonic()
    async with asyncio.timeout(NO_HANG * 2), PrometheusClient(config) as prom:
        with pytest.raises(MetricsUnavailable) as raised:
            await prom.query("x", AT)
    return time.monotonic() - started, raised.value


async def test_a_dripping_body_cannot_hold_one_attempt_past_its_timeout() -> None:
    async with serving(DRIP) as (url, arrivals):
        took, error = await timed_query(PrometheusConfig(address=url, timeout=0.5, retries=0))
    assert took < NO_HANG
    assert len(arrivals) == 1
    assert "timed out after 0.5s" in str(error)


async def test_retries_and_backoff_stay_within_the_query_deadline() -> None:
    async with serving(DRIP) as (url, arrivals):
        config = PrometheusConfig(address=url, timeout=0.5, retries=50, deadline=1.2)
        took, error = await timed_query(config)
    assert took < NO_HANG
    # 50 retries were allowed, but only what fits in 1.2 s of 0.5 s attempts was made.
    assert 2 <= len(arrivals) <= 4
    assert "deadline" in str(error)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = 1_768_478_400.0
    assert retry_after_seconds("7", now=now) == 7.0
    assert retry_after_seconds(" 0 ", now=now) == 0.0
    date = format_datetime(datetime.fromtimestamp(now + 30, tz=UTC), usegmt=True)
    assert retry_after_seconds(date, now=now) == pytest.approx(30.0)
    past = format_datetime(datetime.fromtimestamp(now - 30, tz=UTC), usegmt=True)
    assert retry_after_seconds(past, now=now) == 0.0
    for nonsense in ["", "soon", "-5", "1.5", "1e9999", "9" * 400]:
        assert retry_after_seconds(nonsense, now=now) is None


async def test_retry_after_is_waited_for_before_the_retry() -> None:
    arrivals: list[float] = []

    def handler(_: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            return httpx.Response(503, headers={"Retry-After": "1"})
        body = {"status": "success", "data": {"resultType": "scalar", "result": [1, "4"]}}
        return httpx.Response(200, json=body)

    config = PrometheusConfig(address="http://prom", retries=1, backoff=0, timeout=5)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        assert await prom.query("x", AT) == 4.0
    assert arrivals[1] - arrivals[0] >= 0.9  # asked for 1 s; jittered backoff alone is ~0


async def test_a_retry_after_beyond_the_deadline_gives_up_at_once_saying_why() -> None:
    calls = 0

    def handler(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(429, headers={"Retry-After": "3600"})

    config = PrometheusConfig(address="http://prom", retries=3, timeout=1)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        async with asyncio.timeout(NO_HANG):
            with pytest.raises(MetricsUnavailable, match="Retry-After 3600s") as raised:
                await prom.query("x", AT)
    assert calls == 1
    assert "deadline" in str(raised.value)
