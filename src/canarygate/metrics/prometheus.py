"""Prometheus HTTP API client: instant queries at a given time, with retries, auth and limits.

Every failure surfaces as one of the metrics errors in `canarygate.core.errors`; an empty
result, NaN or an infinity raises NoDataError and is never turned into zero.
"""

from __future__ import annotations

import asyncio
import math
import random
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from canarygate.core import defaults
from canarygate.core.errors import MetricsUnavailable, NoDataError, QueryError

# Statuses worth a second try: overload, gateway trouble, Prometheus' own query timeout.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class PrometheusConfig:
    address: str
    timeout: float = defaults.QUERY_TIMEOUT.seconds
    retries: int = defaults.QUERY_RETRIES
    backoff: float = 0.25
    max_backoff: float = 5.0
    max_concurrency: int = 16
    # After a request gave up on an unreachable Prometheus, others fail fast for this long
    # instead of each waiting out its own timeouts (None: max(5 s, timeout)).
    breaker_cooldown: float | None = None
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False


@dataclass
class ClientStats:
    """Counters for benchmarks and logs: HTTP requests sent and how many were retries."""

    requests: int = 0
    retries: int = 0
    failures: dict[str, int] = field(default_factory=dict)


class PrometheusClient:
    def __init__(
        self, config: PrometheusConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.stats = ClientStats()
        self._limit = asyncio.Semaphore(config.max_concurrency)
        self._failed_attempts = 0
        self._open_until = 0.0
        self._open_because = ""
        headers = {"Accept": "application/json"}
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._http = httpx.AsyncClient(
            base_url=config.address.rstrip("/"),
            headers=headers,
            auth=config.basic_auth,
            verify=_tls_verification(config),
            timeout=httpx.Timeout(config.timeout),
            limits=httpx.Limits(
                max_connections=config.max_concurrency,
                max_keepalive_connections=config.max_concurrency,
            ),
            transport=transport,
        )

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def query(self, promql: str, at: datetime) -> float:
        """Evaluate `promql` at instant `at`; return its single value or raise a MetricsError."""
        return single_value(promql, await self.query_series(promql, at))

    async def query_series(self, promql: str, at: datetime) -> list[Series]:
        """Evaluate `promql` at instant `at`; every series of the result (a scalar is one)."""
        form = {
            "query": promql,
            "time": f"{at.timestamp():.3f}",
            # Prometheus parses durations as integers with a unit: "10.0s" is refused.
            "timeout": f"{max(1, round(self.config.timeout * 1000))}ms",
        }
        last_problem = "no attempt made"
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.stats.retries += 1
                await asyncio.sleep(self._delay(attempt))
            try:
                async with self._limit:
                    self._fail_fast_if_open(promql)
                    self.stats.requests += 1
                    response = await self._http.post("/api/v1/query", data=form)
            except httpx.TimeoutException:
                last_problem = f"timed out after {self.config.timeout:g}s"
            except httpx.TransportError as error:
                last_problem = (
                    f"cannot reach {self.config.address}: {error or type(error).__name__}"
                )
            else:
                if response.status_code not in _RETRYABLE_STATUSES:
                    self._failed_attempts = 0
                    self._open_until = 0.0
                    return _series_of(promql, response)
                last_problem = f"HTTP {response.status_code}: {_error_text(response)}"
            self._note_failed_attempt(last_problem)
        self._count_failure("unavailable")
        raise MetricsUnavailable(
            f"Prometheus unavailable after {self.config.retries + 1} attempt(s): {last_problem}",
            query=promql,
        )

    def _note_failed_attempt(self, problem: str) -> None:
        """As many failed attempts in a row, across queries, as one query may make: open."""
        self._failed_attempts += 1
        if self._failed_attempts > self.config.retries:
            cooldown = self.config.breaker_cooldown
            if cooldown is None:
                cooldown = max(5.0, self.config.timeout)
            self._open_until = time.monotonic() + cooldown
            self._open_because = (
                f"Prometheus unavailable: {self._failed_attempts} attempts in a row failed, "
                f"last: {problem}"
            )

    def _fail_fast_if_open(self, promql: str) -> None:
        """Thousands of queued queries must not each time out against a dead Prometheus."""
        if time.monotonic() < self._open_until:
            self._count_failure("fail-fast")
            raise MetricsUnavailable(f"{self._open_because} (not retried)", query=promql)

    def _delay(self, attempt: int) -> float:
        # Exponential backoff with jitter so that many gates retrying at once spread out.
        ceiling: float = min(self.config.max_backoff, self.config.backoff * 2.0 ** (attempt - 1))
        return ceiling * (0.5 + random.random() / 2)

    def _count_failure(self, kind: str) -> None:
        self.stats.failures[kind] = self.stats.failures.get(kind, 0) + 1


def _tls_verification(config: PrometheusConfig) -> ssl.SSLContext | bool:
    if config.insecure_skip_verify:
        return False
    if config.ca_file:
        return ssl.create_default_context(cafile=config.ca_file)
    return True


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if isinstance(body, dict) and body.get("error"):
        return f"{body.get('errorType', 'error')}: {body['error']}"
    return response.reason_phrase


@dataclass(frozen=True)
class Series:
    """One sample of an instant result; `value` is still text, exactly as Prometheus sent it."""

    labels: dict[str, str]
    value: Any


def _series_of(promql: str, response: httpx.Response) -> list[Series]:
    status = response.status_code
    if status in (400, 422):
        raise QueryError(f"Prometheus rejected the query: {_error_text(response)}", query=promql)
    if status in (401, 403):
        raise MetricsUnavailable(
            f"Prometheus refused our credentials (HTTP {status})", query=promql
        )
    if status != 200:
        raise MetricsUnavailable(
            f"unexpected HTTP {status} from Prometheus: {_error_text(response)}", query=promql
        )
    try:
        body = response.json()
    except ValueError:
        raise MetricsUnavailable(
            "Prometheus answered with something that is not JSON", query=promql
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = _error_text(response)
        raise QueryError(f"Prometheus query failed: {detail}", query=promql)
    data = body.get("data")
    if not isinstance(data, dict):
        raise MetricsUnavailable("Prometheus response has no data", query=promql)
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [Series({}, result)]
    if kind == "vector" and isinstance(result, list):
        return [Series(item.get("metric") or {}, item.get("value")) for item in result]
    raise QueryError(
        f"query returned a {kind} result; an instant vector or scalar is needed", query=promql
    )


def single_value(promql: str, series: list[Series]) -> float:
    """The one finite value a gate query must produce; anything else is a MetricsError."""
    if not series:
        raise NoDataError("query returned no series", query=promql)
    if len(series) > 1:
        raise QueryError(
            f"query returned {len(series)} series; aggregate it to one value, e.g. sum(...)",
            query=promql,
        )
    return _finite(promql, series[0].value)


def _finite(promql: str, pair: Any) -> float:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        raise MetricsUnavailable(
            f"malformed sample {pair!r} from Prometheus", query=promql
        ) from None
    if math.isnan(value):
        raise NoDataError("query returned NaN (e.g. 0/0: no traffic)", query=promql)
    if math.isinf(value):
        raise NoDataError("query returned an infinity (e.g. division by zero)", query=promql)
    return value
