"""Prometheus HTTP API client: instant queries at a given time, and range queries for replays
of the past, with deadlines, retries, a circuit breaker, a response size cap and auth. One
client per Prometheus (see `metrics.settings` for the config and its canonical address).

Every failure surfaces as a MetricsError (the tree is in `metrics.errors`); an empty result,
NaN or an infinity raises NoDataError and is never turned into zero. No message shows a
password or token. Retried: connection errors, timeouts, 429 and 5xx, with jittered backoff
or the wait `Retry-After` asks for, within the query's deadline (`metrics.pacing`). Not
retried: 400/422 (QueryError: the query must be fixed) and 401/403 (unavailable).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from canarygate.core.errors import MetricsError, MetricsUnavailable
from canarygate.metrics.answers import Series, error_detail, series_from_answer, single_value
from canarygate.metrics.bodies import ACCEPTED_ENCODING, read_body
from canarygate.metrics.breaker import CircuitBreaker
from canarygate.metrics.errors import CircuitOpen, failure_kind
from canarygate.metrics.pacing import Deadline, backoff_delay, retry_after_seconds
from canarygate.metrics.range_answers import RangeSeries, range_series_from_answer
from canarygate.metrics.settings import PrometheusConfig, secret_texts, tls_verification

__all__ = [
    "ClientStats",
    "PrometheusClient",
    "PrometheusConfig",
    "RangeSeries",
    "Series",
    "single_value",
]

_Parsed = TypeVar("_Parsed")

# Statuses worth a second try: overload, gateway trouble, Prometheus' own query timeout.
_RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass
class ClientStats:
    """Counters for benchmarks, logs and operator metrics."""

    queries: int = 0  # queries asked for (a packed request is one)
    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    bytes_received: int = 0  # decoded answer bytes
    breaker_opened: int = 0
    # Failed queries by kind: unavailable, fail-fast, refused, malformed, too-large.
    failures: dict[str, int] = field(default_factory=dict)
    # Failed attempts by cause: timeout, connection, http-503...
    attempt_failures: dict[str, int] = field(default_factory=dict)


class _Retryable(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, problem: str, cause: str, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.cause = cause
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Answer:
    status: int
    reason: str
    body: bytes


class PrometheusClient:
    def __init__(
        self, config: PrometheusConfig, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.stats = ClientStats()
        self._limit = asyncio.Semaphore(config.max_concurrency)
        self._breaker = CircuitBreaker(threshold=config.retries, cooldown=config.cooldown)
        self._secrets = secret_texts(config)
        headers = {"Accept": "application/json", "Accept-Encoding": ACCEPTED_ENCODING}
        if config.bearer_token:
            headers["Authorization"] = f"Bearer {config.bearer_token}"
        self._http = httpx.AsyncClient(
            base_url=config.address,
            headers=headers,
            auth=httpx.BasicAuth(*config.basic_auth) if config.basic_auth else None,
            verify=tls_verification(config),
            # Per read and connect; the whole attempt is bounded by `_exchange` itself.
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
        form = {"query": promql, "time": _unix(at)}
        return await self._ask(promql, "/api/v1/query", form, series_from_answer)

    async def query_range_series(
        self, promql: str, start: datetime, end: datetime, step_seconds: float
    ) -> list[RangeSeries]:
        """Evaluate `promql` at `start`, `start + step`... up to `end` (`/api/v1/query_range`:
        each point is what an instant query at that time answers); every series of the result.
        Prometheus refuses more than 11,000 points per series: the caller splits longer ranges."""
        form = {
            "query": promql,
            "start": _unix(start),
            "end": _unix(end),
            "step": f"{step_seconds:.3f}".rstrip("0").rstrip("."),
        }
        return await self._ask(promql, "/api/v1/query_range", form, range_series_from_answer)

    async def _ask(
        self,
        promql: str,
        path: str,
        form: dict[str, str],
        parse: Callable[[str, int, str, bytes], _Parsed],
    ) -> _Parsed:
        """One query with its retries, counted in the stats, its errors redacted."""
        self.stats.queries += 1
        try:
            answer = await self._answer(path, form)
            return parse(promql, answer.status, answer.reason, answer.body)
        except MetricsError as error:
            kind = failure_kind(error)
            self.stats.failures[kind] = self.stats.failures.get(kind, 0) + 1
            raise self._redacted(error, promql) from None

    async def _answer(self, path: str, form: dict[str, str]) -> _Answer:
        deadline = Deadline(self.config.query_deadline)
        attempts = self.config.retries + 1
        failure = _Retryable("no attempt was made", "none")
        for attempt in range(attempts):
            if attempt:
                await self._pause_before_retry(attempt, failure, deadline)
            try:
                return await self._attempt(path, form, deadline)
            except _Retryable as error:
                failure = error
                continue
        raise MetricsUnavailable(
            f"Prometheus unavailable after {attempts} attempt(s): {failure.problem}"
        )

    async def _pause_before_retry(
        self, attempt: int, failure: _Retryable, deadline: Deadline
    ) -> None:
        """Wait before retry number `attempt`, or give up if the wait would outlast the
        query's deadline."""
        delay = backoff_delay(attempt, self.config.backoff, self.config.max_backoff)
        left = deadline.remaining()
        asked = failure.retry_after
        if asked is not None and asked >= left:
            raise MetricsUnavailable(
                f"Prometheus unavailable: {failure.problem}; Retry-After {asked:g}s is past "
                f"this query's deadline ({max(left, 0):.1f}s left of {deadline.seconds:g}s)"
            )
        delay = max(delay, asked or 0.0)
        if delay >= left:
            raise MetricsUnavailable(
                f"Prometheus unavailable: gave up at the query deadline of "
                f"{deadline.seconds:g}s after {attempt} attempt(s), last: {failure.problem}"
            )
        self.stats.retries += 1
        await asyncio.sleep(delay)

    async def _attempt(self, path: str, form: dict[str, str], deadline: Deadline) -> _Answer:
        """One request, holding a connection slot, within the time left; breaker-aware."""
        async with self._limit:
            deadline.start()
            budget = min(self.config.timeout, deadline.remaining())
            if budget <= 0:
                raise _Retryable("no time left after waiting for a free connection", "deadline")
            reason = self._breaker.open_reason()
            if reason:
                raise CircuitOpen(reason)
            started = self._breaker.attempt_started()
            self.stats.requests += 1
            try:
                answer = await self._exchange(path, form, budget)
            except _Retryable as failure:
                self._note_failure(started, failure)
                raise
            self._breaker.succeeded()
            return answer

    async def _exchange(self, path: str, form: dict[str, str], budget: float) -> _Answer:
        """Send, and read the whole answer, within `budget` seconds in all."""
        # Prometheus parses durations as integers with a unit: "10.0s" is refused.
        form = {**form, "timeout": f"{max(1, round(budget * 1000))}ms"}
        try:
            async with (
                asyncio.timeout(budget),
                self._http.stream("POST", path, data=form) as response,
            ):
                body = await read_body(response, self.config.max_response_bytes)
        except (TimeoutError, httpx.TimeoutException):
            raise _Retryable(f"timed out after {budget:.3g}s", "timeout") from None
        except httpx.TransportError as error:
            problem = f"cannot reach {self.config.address}: {error or type(error).__name__}"
            raise _Retryable(problem, "connection") from None
        self.stats.bytes_received += len(body)
        answer = _Answer(response.status_code, response.reason_phrase, body)
        if answer.status in _RETRYABLE_STATUSES:
            raise _retryable_status(answer, response.headers.get("retry-after"))
        return answer

    def _note_failure(self, started: float, failure: _Retryable) -> None:
        causes = self.stats.attempt_failures
        causes[failure.cause] = causes.get(failure.cause, 0) + 1
        if self._breaker.failed(started, failure.problem, failure.retry_after):
            self.stats.breaker_opened += 1

    def _redacted(self, error: MetricsError, promql: str) -> MetricsError:
        """`error` naming its query, with any secret in its message masked."""
        message = error.message
        for secret in self._secrets:
            message = message.replace(secret, "***")
        if message == error.message and error.query is not None:
            return error
        return type(error)(message, query=error.query or promql)


def _unix(at: datetime) -> str:
    return f"{at.timestamp():.3f}"


def _retryable_status(answer: _Answer, retry_after: str | None) -> _Retryable:
    detail = error_detail(answer.body, answer.reason)
    wait = None
    if answer.status in (429, 503):
        wait = retry_after_seconds(retry_after, now=time.time())
    return _Retryable(f"HTTP {answer.status}: {detail}", f"http-{answer.status}", wait)
