"""The webhook checks' client: what it sends, and the limits it keeps (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from canarygate.core.checks import CheckResult
from canarygate.webhooks import RESPONSE_LIMIT, CheckCall, WebhookCaller

CALL = CheckCall("smoke", "shop", "checkout", "v2", step=25, weight=10)
Handler = Callable[[httpx.Request], httpx.Response]


async def call(
    handler: Handler, url: str = "http://hooks.test/check", limit: float = 2.0
) -> CheckResult:
    caller = WebhookCaller(transport=httpx.MockTransport(handler))
    try:
        return await caller.call(url, CALL, limit)
    finally:
        await caller.aclose()


async def test_it_posts_the_gate_the_revision_and_the_step() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"message": "smoke tests green"})

    result = await call(handler)
    (request,) = seen
    assert request.method == "POST"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "schema": "canarygate.io/check/v1",
        "check": "smoke",
        "gate": {"namespace": "shop", "name": "checkout"},
        "revision": "v2",
        "step": 25,
        "weight": 10,
    }
    assert (result.step, result.status_code, result.error) == (25, 200, None)
    assert result.message == "smoke tests green"
    assert result.latency_seconds is not None
    assert result.latency_seconds >= 0


async def test_any_status_is_reported_with_the_hooks_words_on_one_line() -> None:
    result = await call(lambda _: httpx.Response(503, text="not now\n\x1b[31mred\x1b[0m"))
    assert (result.status_code, result.error) == (503, None)
    assert "\n" not in result.message
    assert "\x1b" not in result.message
    assert result.message.startswith("not now")


async def test_a_slow_hook_is_a_timeout_never_an_answer() -> None:
    async def stream() -> AsyncIterator[bytes]:
        await asyncio.sleep(5)
        yield b"late"

    result = await call(lambda _: httpx.Response(200, content=stream()), limit=0.2)
    assert result.status_code is None
    assert result.error == "no answer within 0.2s (timeout)"


async def test_an_answer_over_the_cap_is_not_read() -> None:
    result = await call(lambda _: httpx.Response(200, content=b"x" * (RESPONSE_LIMIT + 1)))
    assert result.status_code is None
    assert result.error == "answered 200 with more than 64 KiB: not read"


async def test_a_redirect_to_another_host_is_never_followed() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(307, headers={"Location": "http://elsewhere.test/steal?token=x"})

    result = await call(handler)
    assert hosts == ["hooks.test"]
    assert result.status_code is None
    assert result.error is not None
    assert "another host (http://elsewhere.test:80): not followed" in result.error
    assert "token" not in result.error


async def test_a_redirect_on_the_same_host_is_followed_with_the_same_body() -> None:
    seen: list[tuple[str, bytes]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.content))
        if request.url.path == "/check":
            return httpx.Response(308, headers={"Location": "/v2/check"})
        return httpx.Response(204)

    result = await call(handler)
    assert [path for path, _ in seen] == ["/check", "/v2/check"]
    assert seen[0][1] == seen[1][1]
    assert result.status_code == 204


async def test_a_redirect_loop_ends() -> None:
    result = await call(lambda _: httpx.Response(302, headers={"Location": "/again"}))
    assert result.error == "more than 3 redirects"


async def test_an_unreachable_hook_says_where_without_the_path() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    result = await call(handler, url="https://hooks.test:8443/secret/path?key=1")
    assert result.error == "https://hooks.test:8443 unreachable (ConnectError)"


@pytest.mark.parametrize("url", ["ftp://hooks.test/x", "file:///etc/passwd"])
async def test_an_unsupported_scheme_is_no_answer(url: str) -> None:
    result = await call(lambda _: httpx.Response(200), url=url)
    assert result.status_code is None
    assert result.error is not None
