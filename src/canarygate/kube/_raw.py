"""Raw JSON over lightkube's configured HTTP client: bounded concurrency, counters, and the
mapping of every transport or HTTP failure to a KubeError.

This is the only module that sends requests or sees httpx2 (and lightkube's auth errors,
raised from inside a request when a token file or exec plugin fails).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from lightkube.core.exceptions import ConfigError

from canarygate.kube.errors import (
    Conflict,
    KubeError,
    KubeUnavailable,
    error_for_status,
    status_message,
)
from canarygate.kube.stats import ApiStats

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
Params = Mapping[str, str | int]


class RawClient:
    """Requests as dicts in, dicts out. Writes (everything but GET) and reads are bounded by
    separate semaphores shared by every caller; watches are long-lived and not bounded."""

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        stats: ApiStats,
        field_manager: str,
        max_writes: int,
        max_reads: int,
    ) -> None:
        if max_writes < 1 or max_reads < 1:
            raise ValueError("max_writes and max_reads must be at least 1")
        self._http = http
        self._stats = stats
        self._field_manager = field_manager
        self._writes = asyncio.Semaphore(max_writes)
        self._reads = asyncio.Semaphore(max_reads)

    async def request(
        self,
        method: str,
        path: str,
        *,
        verb: str,
        target: str,
        params: Params | None = None,
        body: Mapping[str, Any] | None = None,
        content_type: str = JSON,
    ) -> dict[str, Any]:
        query: dict[str, str | int] = dict(params or {})
        headers = {"Accept": JSON}
        content: bytes | None = None
        if body is not None:
            content = json.dumps(body, separators=(",", ":")).encode()
            headers["Content-Type"] = content_type
        if method != "GET":
            query.setdefault("fieldManager", self._field_manager)
        self._stats.requests[verb] += 1
        bound = self._reads if method == "GET" else self._writes
        async with bound:
            try:
                response = await self._http.request(
                    method, path, params=query, content=content, headers=headers
                )
            except (httpx2.HTTPError, ConfigError, OSError) as error:
                raise self.failed(_unavailable(error, verb, target)) from None
        if response.status_code >= 400:
            raise self.failed(
                error_for_status(
                    response.status_code,
                    status_message(response.content, response.reason_phrase),
                    verb=verb,
                    target=target,
                )
            )
        try:
            decoded = json.loads(response.content)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise self.failed(
                KubeUnavailable("the answer is not a JSON object", verb=verb, target=target)
            )
        return decoded

    @asynccontextmanager
    async def watch(
        self, path: str, *, params: Params, read_timeout: float, target: str
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Open a watch; yields an iterator of decoded watch events. The stream ends when the
        server closes it; a broken stream raises KubeUnavailable from the iterator."""
        self._stats.requests["watch"] += 1
        timeout = httpx2.Timeout(10.0, read=read_timeout)
        try:
            async with self._http.stream(
                "GET", path, params=dict(params), headers={"Accept": JSON}, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    body = await response.aread()
                    raise self.failed(
                        error_for_status(
                            response.status_code,
                            status_message(body, response.reason_phrase),
                            verb="watch",
                            target=target,
                        )
                    )
                yield self._events(response, target)
        except (httpx2.HTTPError, ConfigError, OSError) as error:
            raise self.failed(_unavailable(error, "watch", target)) from None

    async def _events(
        self, response: httpx2.Response, target: str
    ) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if not isinstance(event, dict):
                    raise self.failed(
                        KubeUnavailable(
                            f"unreadable watch event {line[:80]!r}", verb="watch", target=target
                        )
                    )
                yield event
        except (httpx2.HTTPError, ConfigError, OSError) as error:
            raise self.failed(_unavailable(error, "watch", target)) from None

    def failed(self, error: KubeError) -> KubeError:
        """Count `error` and return it, for `raise raw.failed(...)`."""
        self._stats.errors[type(error).__name__] += 1
        if isinstance(error, Conflict):
            self._stats.conflicts += 1
        return error

    async def close(self) -> None:
        await self._http.aclose()


def _unavailable(error: BaseException, verb: str, target: str) -> KubeUnavailable:
    if isinstance(error, httpx2.TimeoutException):
        what = "timed out"
    elif isinstance(error, ConfigError):
        what = "credentials unusable"
    else:
        what = "connection failed"
    detail = str(error) or type(error).__name__
    return KubeUnavailable(f"{what}: {detail}", verb=verb, target=target)
