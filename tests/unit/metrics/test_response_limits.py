"""The response size cap: a body is streamed and reading stops past the cap, so huge or
endlessly compressed answers cost at most the cap in memory, and say why they were refused."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from canarygate.core import MetricsUnavailable
from canarygate.metrics import PrometheusClient, PrometheusConfig

from .servers import sending, serving

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
MiB = 1024 * 1024
CHUNK = 64 * 1024


async def streamed(body: bytes) -> AsyncIterator[bytes]:
    """`body` as a network would deliver it: in chunks, not read in advance."""
    for start in range(0, len(body), CHUNK):
        yield body[start : start + CHUNK]


class Endless:
    """A streamed body of `size` bytes that counts how much of it was produced."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.produced = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.produced < self.size:
            self.produced += CHUNK
            yield b" " * CHUNK


async def test_five_50_mb_answers_are_cut_at_the_cap_not_read_whole() -> None:
    bodies = [Endless(50 * MiB) for _ in range(5)]
    handed = iter(bodies)

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=next(handed))

    config = PrometheusConfig(address="http://prom", retries=0, max_response_bytes=MiB)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        outcomes = await asyncio.gather(
            *(prom.query(f"q{i}", AT) for i in range(5)), return_exceptions=True
        )
    for outcome in outcomes:
        assert isinstance(outcome, MetricsUnavailable)
        assert "larger than 1 MiB" in str(outcome)
    # Each was read to just past the cap: 1 MiB plus a chunk, not 50 MiB.
    assert all(body.produced <= MiB + 2 * CHUNK for body in bodies)
    assert prom.stats.failures == {"too-large": 5}


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    body = Endless(50 * MiB)

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Length": str(50 * MiB)})

    config = PrometheusConfig(address="http://prom", retries=0, max_response_bytes=MiB)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        with pytest.raises(MetricsUnavailable, match="larger than 1 MiB"):
            await prom.query("x", AT)
    assert body.produced == 0


async def test_a_compression_bomb_is_cut_at_the_cap_of_decoded_bytes() -> None:
    compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    bomb = compressor.compress(b" " * (64 * MiB)) + compressor.flush()
    assert len(bomb) < MiB / 8

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=streamed(bomb), headers={"Content-Encoding": "gzip"})

    config = PrometheusConfig(address="http://prom", retries=0, max_response_bytes=MiB)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        with pytest.raises(MetricsUnavailable, match="larger than 1 MiB"):
            await prom.query("x", AT)


async def test_gzip_answers_within_the_cap_are_read() -> None:
    answer = {"status": "success", "data": {"resultType": "scalar", "result": [1, "2.5"]}}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("accept-encoding", ""))
        body = gzip.compress(json.dumps(answer).encode())
        return httpx.Response(200, content=streamed(body), headers={"Content-Encoding": "gzip"})

    async with PrometheusClient(
        PrometheusConfig(address="http://prom"), transport=httpx.MockTransport(handler)
    ) as prom:
        assert await prom.query("x", AT) == 2.5
    assert seen == ["gzip"]


async def test_an_encoding_we_did_not_ask_for_is_unavailable() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=streamed(b"\x00\x01"), headers={"Content-Encoding": "br"}
        )

    config = PrometheusConfig(address="http://prom", retries=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        with pytest.raises(MetricsUnavailable, match="encoding 'br'"):
            await prom.query("x", AT)


async def test_a_corrupt_gzip_body_is_unavailable() -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=streamed(b"not gzip"), headers={"Content-Encoding": "gzip"}
        )

    config = PrometheusConfig(address="http://prom", retries=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        with pytest.raises(MetricsUnavailable, match="gzip"):
            await prom.query("x", AT)


async def test_a_real_server_sending_too_much_is_cut_off() -> None:
    async with serving(sending(50 * MiB)) as (url, _):
        config = PrometheusConfig(address=url, retries=0, max_response_bytes=MiB, timeout=30)
        async with asyncio.timeout(60), PrometheusClient(config) as prom:
            with pytest.raises(MetricsUnavailable, match="larger than 1 MiB"):
                await prom.query("x", AT)
