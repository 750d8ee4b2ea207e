"""The client of webhook checks (`spec.canary.checks[].webhook`): one POST, one answer.

The body names the gate, the revision and the step the answer is about:

    {"schema": "canarygate.io/check/v1", "check": "smoke", "gate": {"namespace": "shop",
     "name": "checkout"}, "revision": "v2", "step": 25, "weight": 10}

`step` is the canary percent the gate is about to take (100 for the promotion), or where it
is for a check run at every evaluation; `weight` is where it is now. A 2xx answer passes,
any other fails; the core judges (core.checking), this only reports what happened.

Limits, because a spec names the URL and the operator calls it: the whole call, redirects
included, is bounded by the check's timeout; an answer is read up to 64 KiB and a longer one
is no answer; a redirect is followed (at most 3, the same method and body) only to the same
scheme, host and port, never to another host, so a hook cannot send the operator's request
elsewhere. What went wrong is said without the URL's path or query (they may carry a
credential): `scheme://host:port` at most. Proxy settings from the environment are not used.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from canarygate.core.checks import CheckResult

SCHEMA: Final = "canarygate.io/check/v1"
RESPONSE_LIMIT: Final = 64 * 1024
MESSAGE_LIMIT: Final = 256
REDIRECT_LIMIT: Final = 3
USER_AGENT: Final = "canarygate-check"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class CheckCall:
    """What one call is about."""

    check: str
    namespace: str
    name: str
    revision: str | None
    step: int
    weight: int

    def body(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "check": self.check,
            "gate": {"namespace": self.namespace, "name": self.name},
            "revision": self.revision,
            "step": self.step,
            "weight": self.weight,
        }


class _NoAnswer(Exception):
    """The call produced nothing to judge; the message says why (without the URL's path)."""


def origin(url: httpx.URL) -> str:
    """`https://hooks.example:443`: what may be shown of a URL."""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}"


class WebhookCaller:
    """One HTTP client for every webhook check of a process (connections are reused)."""

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(follow_redirects=False, trust_env=False, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(self, url: str, call: CheckCall, timeout_seconds: float) -> CheckResult:
        """POST `call` to `url`; never raises for anything the hook or the network does."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(timeout_seconds):
                code, text = await self._exchange(httpx.URL(url), call)
        except TimeoutError:
            return _no_answer(call, started, f"no answer within {timeout_seconds:g}s (timeout)")
        except _NoAnswer as problem:
            return _no_answer(call, started, str(problem))
        return CheckResult(
            step=call.step,
            status_code=code,
            latency_seconds=time.monotonic() - started,
            message=_message(text),
        )

    async def _exchange(self, url: httpx.URL, call: CheckCall) -> tuple[int, str]:
        content = json.dumps(call.body(), separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        first = url
        for _ in range(REDIRECT_LIMIT + 1):
            code, location, text = await self._post(url, content, headers)
            if code not in _REDIRECTS or location is None:
                return code, text
            try:
                following = url.join(location)
            except httpx.InvalidURL:
                raise _NoAnswer(f"answered {code} with an unusable Location") from None
            if origin(following) != origin(first):
                raise _NoAnswer(
                    f"answered {code}, a redirect to another host ({origin(following)}): "
                    "not followed"
                )
            url = following
        raise _NoAnswer(f"more than {REDIRECT_LIMIT} redirects")

    async def _post(
        self, url: httpx.URL, content: bytes, headers: Mapping[str, str]
    ) -> tuple[int, str | None, str]:
        if url.scheme not in ("http", "https") or not url.host:
            raise _NoAnswer("unsupported URL: http(s) with a host only")
        try:
            request = self._http.build_request("POST", url, content=content, headers=headers)
            response = await self._http.send(request, stream=True)
        except httpx.UnsupportedProtocol:
            raise _NoAnswer("unsupported URL scheme") from None
        except httpx.TimeoutException:
            raise _NoAnswer("timed out") from None
        except httpx.TransportError as error:  # refused, reset, DNS: the type, never the URL
            raise _NoAnswer(f"{origin(url)} unreachable ({type(error).__name__})") from None
        except httpx.HTTPError as error:
            raise _NoAnswer(f"request failed ({type(error).__name__})") from None
        try:
            body = bytearray()
            # Decoded bytes count: a compressed answer is capped at what it expands to.
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > RESPONSE_LIMIT:
                    raise _NoAnswer(
                        f"answered {response.status_code} with more than "
                        f"{RESPONSE_LIMIT // 1024} KiB: not read"
                    )
        except httpx.HTTPError as error:
            raise _NoAnswer(f"the answer broke off ({type(error).__name__})") from None
        finally:
            await response.aclose()
        return (
            response.status_code,
            response.headers.get("Location"),
            bytes(body).decode("utf-8", errors="replace"),
        )


def _no_answer(call: CheckCall, started: float, why: str) -> CheckResult:
    return CheckResult(step=call.step, latency_seconds=time.monotonic() - started, error=why)


def _message(text: str) -> str:
    """The hook's own words: `message` of a JSON object, else the start of its text; one
    line of printable characters, at most 256."""
    stripped = text.strip()
    said = stripped
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("message"), str):
            said = document["message"]
    line = "".join(c if c.isprintable() else " " for c in said)
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."
