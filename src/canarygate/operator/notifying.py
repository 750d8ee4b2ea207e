"""Notifications: every transition the operator announces, posted to webhook receivers.

`Notifier` is the `notify` hook of `GateContext.event`, the one place a transition is
announced. Calling it only appends the transition to each receiver's bounded queue (when
full, the oldest is dropped and counted) and returns: a slow or failing webhook never
blocks or slows a gate. One worker per receiver posts its queue in order, one at a time,
with a timeout; it retries connection errors, timeouts, 429 (after its Retry-After) and
5xx with exponential backoff and jitter, for a bounded time, then gives up and counts it.
Any other answer is final, but a refusal (4xx, a redirect) has the receiver's Secret read
again (a rotated token or hook URL) and, when it changed, the post tried once more; while
notifications flow the Secret is also read again every minute.

Sent once: a transition is queued once per announcement and a successful post is never
repeated. Only the replica that processes gates announces transitions, so a standby (which
processes none) never sends. A post whose answer was lost is retried, so the document
carries an `id` a receiver can deduplicate on.

On shutdown, what is queued is attempted for a short grace period, then dropped and counted.

A receiver's URL (a Slack hook's path is its credential) and token never reach a log line or a
metric: our lines show `scheme://host[:port]` and the Secret's name, and while a notifier runs
a filter rewrites its receivers' URLs in httpx's own request lines the same way (whatever the
logging configuration: `canarygate run` keeps httpx at WARNING anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from canarygate.core.errors import KubeError
from canarygate.operator.context import Transition
from canarygate.operator.notices import notice
from canarygate.operator.receivers import (
    Format,
    Receiver,
    ReceiverError,
    SecretRef,
    receiver_from_secret,
)
from canarygate.operator.slack_notices import slack_body

log = logging.getLogger("canarygate.notifications")

USER_AGENT = "canarygate-notifier"


class SecretReader(Protocol):
    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class NotificationSettings:
    secrets: tuple[SecretRef, ...] = ()
    timeout_seconds: float = 5.0  # one post
    retry_for_seconds: float = 120.0  # one notification, retries included
    queue_size: int = 1000  # per receiver
    grace_seconds: float = 5.0  # on shutdown
    backoff_seconds: float = 1.0  # the first retry's delay, doubling
    max_backoff_seconds: float = 30.0
    # A Secret is read again at most this often (on a refusal, or while it cannot be read)...
    secret_reread_seconds: float = 5.0
    # ...and at least this often while notifications flow (a rotated URL or token is used
    # from the next notification on, without waiting for a refusal).
    secret_refresh_seconds: float = 60.0


class NotificationMetrics:
    """On the operator's registry; `receiver` is the Secret's NAMESPACE/NAME, never its
    content."""

    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.sent = Counter(
            "canarygate_notifications_sent", "Notifications delivered (2xx), by receiver.",
            ["receiver"], registry=r,
        )  # fmt: skip
        self.failed = Counter(
            "canarygate_notifications_failed",
            "Notifications not delivered, by receiver and reason: gave_up (retries exhausted), "
            "rejected (a final 4xx or redirect), unauthorized (401/403 with the Secret's current "
            "token), secret (no usable receiver Secret), error (a bug: see the log).",
            ["receiver", "reason"],
            registry=r,
        )
        self.dropped = Counter(
            "canarygate_notifications_dropped",
            "Notifications dropped unsent, by receiver and reason: queue_full (the oldest "
            "gives way), shutdown (still queued when the grace period ended).",
            ["receiver", "reason"],
            registry=r,
        )
        self.retries = Counter(
            "canarygate_notification_retries", "Posts retried, by receiver.", ["receiver"],
            registry=r,
        )  # fmt: skip
        self.secret_errors = Counter(
            "canarygate_notification_secret_errors",
            "Reads of a receiver's Secret that failed or found it unusable, by receiver.",
            ["receiver"],
            registry=r,
        )
        self.queued = Gauge(
            "canarygate_notifications_queued", "Notifications waiting, by receiver.",
            ["receiver"], registry=r,
        )  # fmt: skip


@dataclass(frozen=True)
class _Queued:
    transition: Transition
    at: datetime


@dataclass(frozen=True)
class _Outcome:
    delivered: bool = False
    retry: bool = False
    unauthorized: bool = False
    retry_after: float | None = None
    detail: str = ""


Sleep = Callable[[float], Awaitable[None]]


class ReceiverWorker:
    """One receiver: its queue, its Secret, its HTTP client and the task posting in order."""

    def __init__(
        self,
        ref: SecretRef,
        secrets: SecretReader,
        settings: NotificationSettings,
        metrics: NotificationMetrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.ref = ref
        self.label = str(ref)
        self.receiver: Receiver | None = None
        self._secrets = secrets
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        self._queue: deque[_Queued] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._current: _Queued | None = None
        self._closing = False
        self._close_by = float("inf")
        self._last_read = float("-inf")
        self._problem: str | None = None
        self._overflowing = False
        # No redirects: one could carry the token to another host.
        self._http = httpx.AsyncClient(
            timeout=settings.timeout_seconds, follow_redirects=False, transport=transport
        )
        for counter in (metrics.sent, metrics.retries, metrics.secret_errors):
            counter.labels(self.label)
        metrics.queued.labels(self.label).set_function(lambda: len(self._queue))

    # -- the gate's side: never waits, never raises ------------------------------------------

    def offer(self, item: _Queued) -> None:
        if self._closing:
            self._metrics.dropped.labels(self.label, "shutdown").inc()
            return
        if len(self._queue) >= self._settings.queue_size:
            self._queue.popleft()
            self._metrics.dropped.labels(self.label, "queue_full").inc()
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "notifications to %s: %d queued, dropping the oldest (the receiver is "
                    "slower than the transitions)",
                    self._name(), self._settings.queue_size,
                )  # fmt: skip
        self._queue.append(item)
        self._wake.set()

    # -- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"notifications {self.label}")

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._overflowing = False
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            self._current = self._queue.popleft()
            try:
                await self._deliver(self._current)
            except Exception:  # a bug costs one notification, never the worker
                log.exception("notifications to %s: unexpected failure", self._name())
                self._metrics.failed.labels(self.label, "error").inc()
            self._current = None

    async def _deliver(self, item: _Queued) -> None:
        receiver = await self.load()
        if receiver is None:
            self._metrics.failed.labels(self.label, "secret").inc()
            return
        content = _render(item, receiver.format)
        started = time.monotonic()
        deadline = min(started + self._settings.retry_for_seconds, self._close_by)
        reloaded = False
        attempt = 0
        while True:
            outcome = await self._post(receiver, content)
            if outcome.delivered:
                self._metrics.sent.labels(self.label).inc()
                return
            if not outcome.retry and not reloaded:
                # A refusal may mean the Secret changed (a rotated token, a new hook URL):
                # read it again, and post once more only if it did.
                reloaded = True
                fresh = await self.load(again=True)
                if fresh is not None and fresh != receiver:
                    if fresh.format is not receiver.format:
                        content = _render(item, fresh.format)
                    receiver = fresh
                    continue
            if not outcome.retry:
                reason = "unauthorized" if outcome.unauthorized else "rejected"
                self._metrics.failed.labels(self.label, reason).inc()
                log.warning(
                    "notification %s of %s to %s refused: %s",
                    item.transition.reason, _gate(item), self._name(), outcome.detail,
                )  # fmt: skip
                return
            delay = (
                outcome.retry_after if outcome.retry_after is not None else self._backoff(attempt)
            )
            if time.monotonic() + delay > deadline:
                self._metrics.failed.labels(self.label, "gave_up").inc()
                log.warning(
                    "notification %s of %s to %s given up after %d attempts in %.0fs: %s",
                    item.transition.reason, _gate(item), self._name(), attempt + 1,
                    time.monotonic() - started, outcome.detail,
                )  # fmt: skip
                return
            log.debug(
                "notification to %s: %s; retrying in %.1fs", self._name(), outcome.detail, delay
            )
            self._metrics.retries.labels(self.label).inc()
            await self._sleep(delay)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        """Exponential with jitter: between half and all of the doubled delay, so receivers
        coming back are not hit by every operator at once."""
        ceiling = min(
            self._settings.max_backoff_seconds, self._settings.backoff_seconds * 2**attempt
        )
        return random.uniform(ceiling / 2, ceiling)

    async def _post(self, receiver: Receiver, content: bytes) -> _Outcome:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if receiver.token:
            headers["Authorization"] = f"Bearer {receiver.token}"
        try:
            # The whole exchange, not each read: a receiver dribbling its answer is a timeout.
            async with asyncio.timeout(self._settings.timeout_seconds):
                response = await self._http.post(receiver.url, content=content, headers=headers)
        except (TimeoutError, httpx.TimeoutException):
            return _Outcome(
                retry=True, detail=f"no answer within {self._settings.timeout_seconds:g}s"
            )
        except httpx.UnsupportedProtocol:
            return _Outcome(detail="unsupported URL scheme")
        except httpx.TransportError as error:  # connection refused, reset, DNS...
            # The type, not the text: never a chance of echoing the URL.
            return _Outcome(retry=True, detail=f"connection failed ({type(error).__name__})")
        except httpx.HTTPError as error:
            return _Outcome(detail=f"request failed ({type(error).__name__})")
        code = response.status_code
        if 200 <= code < 300:
            return _Outcome(delivered=True)
        detail = f"HTTP {code}"
        if code in (401, 403):
            return _Outcome(unauthorized=True, detail=detail)
        if code == 429 or code >= 500:
            return _Outcome(
                retry=True,
                retry_after=retry_after(response.headers.get("Retry-After")),
                detail=detail,
            )
        if 300 <= code < 400:
            detail += " (a redirect: not followed; put the final URL in the Secret)"
        return _Outcome(detail=detail)

    # -- the Secret -----------------------------------------------------------------------------

    async def load(self, *, again: bool = False) -> Receiver | None:
        """The receiver: read from its Secret the first time, again when `again` (a
        refusal), when the last read is `secret_refresh_seconds` old, or while it cannot be
        read; never more than once per `secret_reread_seconds`. A Secret that cannot be read
        is one log line (per new problem) and a metric, never an exception; the last good
        receiver stays in use."""
        now = time.monotonic()
        age = now - self._last_read
        if self.receiver is not None and not again and age < self._settings.secret_refresh_seconds:
            return self.receiver
        if age < self._settings.secret_reread_seconds:
            return self.receiver
        self._last_read = now
        try:
            found = receiver_from_secret(
                await self._secrets.get_secret(self.ref.namespace, self.ref.name)
            )
        except (KubeError, ReceiverError) as error:
            problem = f"cannot be read: {error}" if isinstance(error, KubeError) else str(error)
        except Exception as error:  # reading a Secret must never take the operator down
            problem = f"cannot be read: {type(error).__name__}"
        else:
            if found != self.receiver or self._problem is not None:
                log.info(
                    "notifications: Secret %s: posting %s documents to %s",
                    self.label, found.format, found.where,
                )  # fmt: skip
            self._problem = None
            self.receiver = found
            return found
        self._metrics.secret_errors.labels(self.label).inc()
        if problem != self._problem:
            log.error(
                "notifications: Secret %s %s; %s",
                self.label,
                problem,
                "its receiver gets nothing until it can be read"
                if self.receiver is None
                else "still posting with what it held before",
            )
        self._problem = problem
        return self.receiver

    def _name(self) -> str:
        where = self.receiver.where if self.receiver is not None else "(no receiver)"
        return f"{where} (Secret {self.label})"

    # -- shutdown ----------------------------------------------------------------------------

    async def close(self, grace: float) -> None:
        """Stop taking notifications; post what is queued for at most `grace` seconds, then
        drop the rest (counted)."""
        self._closing = True
        self._close_by = time.monotonic() + grace
        self._wake.set()
        task = self._task
        if task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout=grace)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        left = len(self._queue) + (self._current is not None)
        if left:
            self._metrics.dropped.labels(self.label, "shutdown").inc(left)
            log.warning("notifications to %s: %d dropped at shutdown, unsent", self._name(), left)
        self._queue.clear()
        self._current = None
        await self._http.aclose()


class Notifier:
    """Every receiver named by `--notify-secret`; an instance is the `notify` hook. With
    leader election, `active` is whether this replica leads: a transition is queued only
    then (what was queued before the lead was lost is still sent)."""

    def __init__(
        self,
        secrets: SecretReader,
        settings: NotificationSettings,
        registry: CollectorRegistry,
        *,
        active: Callable[[], bool] = lambda: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._active = active
        self._clock = clock
        metrics = NotificationMetrics(registry)
        self.workers: Sequence[ReceiverWorker] = [
            ReceiverWorker(ref, secrets, settings, metrics, transport=transport, sleep=sleep)
            for ref in dict.fromkeys(settings.secrets)
        ]
        self._redacting = _RedactingFilter(self.workers)

    async def start(self) -> None:
        """Read every receiver's Secret (a failure is logged and counted, not raised), then
        start the workers."""
        _HTTPX_LOG.addFilter(self._redacting)
        await asyncio.gather(*(worker.load() for worker in self.workers))
        for worker in self.workers:
            worker.start()

    def __call__(self, transition: Transition) -> None:
        try:
            if not self._active():
                # A replica that lost the lead mid-transition: its Event is not posted
                # either (operator.fencing), and the active replica speaks from now on.
                log.debug(
                    "notifications: %s not queued: this replica is not active", transition.reason
                )
                return
            item = _Queued(transition, self._clock())
            for worker in self.workers:
                worker.offer(item)
        except Exception:  # the announcing gate must never see a notifier's bug
            log.exception("notifications: could not queue %s", transition.reason)

    async def close(self) -> None:
        await asyncio.gather(
            *(worker.close(self.settings.grace_seconds) for worker in self.workers)
        )
        _HTTPX_LOG.removeFilter(self._redacting)


# httpx logs each request's full URL (at INFO); see `_RedactingFilter`.
_HTTPX_LOG = logging.getLogger("httpx")


class _RedactingFilter(logging.Filter):
    """Rewrites the URL of any receiver (as its Secret gave it now) among a log record's
    arguments to what may be shown of it (`Receiver.where`). Installed on httpx's logger while
    the notifier runs."""

    def __init__(self, workers: Sequence[ReceiverWorker]) -> None:
        super().__init__()
        self._workers = workers

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            shown = {
                w.receiver.url: w.receiver.where for w in self._workers if w.receiver is not None
            }
            record.args = tuple(
                shown.get(str(arg), arg) if isinstance(arg, httpx.URL | str) else arg
                for arg in record.args
            )
        return True


def _render(item: _Queued, chosen: Format) -> bytes:
    document = notice(item.transition, item.at)
    body = slack_body(document) if chosen is Format.SLACK else document
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _gate(item: _Queued) -> str:
    metadata = item.transition.gate.get("metadata") or {}
    return f"{metadata.get('namespace')}/{metadata.get('name')}"


def retry_after(
    value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> float | None:
    """Seconds to wait from a Retry-After header: a number of seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())
