"""GateInformer: every CanaryGate in scope, from a paged list and then a watch, as raw dicts.

Per scope (all namespaces, or each given namespace): list in pages of 500 with `continue`
tokens, then watch from the list's resourceVersion with bookmarks and a server-side
timeout. A watch that ends normally resumes from the last resourceVersion seen (bookmarks
included); 410 Gone, as an HTTP status or a watch ERROR event, means that version expired:
list again, and report gates that vanished meanwhile as Deleted. Errors back off and retry
forever; the informer only ends through stop(). It keeps one (key -> uid) entry per gate,
never a body.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from canarygate.kube.api import KubeApi
from canarygate.kube.backoff import Backoff
from canarygate.kube.changes import Deleted, GateKey, InformerEvent, Synced, Upsert
from canarygate.kube.errors import Forbidden, KubeError, KubeUnavailable, NotFound, error_for_status
from canarygate.kube.refs import API_VERSION, GROUP, KIND, PLURAL, target

# The events are defined in `changes`; they are part of this module's interface too.
__all__ = ["Deleted", "GateInformer", "Handler", "InformerEvent", "Synced", "Upsert"]

logger = logging.getLogger(__name__)

Scope = str | None  # a namespace, or None for all namespaces
Handler = Callable[[InformerEvent], Awaitable[None] | None]

PAGE_SIZE = 500
WATCH_TIMEOUT = 300  # seconds; each watch asks for a random 1x-2x of it
RETRY = Backoff(base=0.5, cap=30.0)
# 401/403 will not heal by hammering the server: someone must fix RBAC or credentials.
DENIED_RETRY = Backoff(base=10.0, cap=300.0)
# A watch the server closes this fast without a single event counts as a failure.
SHORT_WATCH = 1.0


class _Gone(Exception):
    """The resourceVersion (or continue token) expired: list again."""


class GateInformer:
    def __init__(
        self,
        api: KubeApi,
        namespaces: Sequence[str] | None,
        on_event: Handler,
        *,
        page_size: int = PAGE_SIZE,
        watch_timeout: int = WATCH_TIMEOUT,
        backoff: Backoff = RETRY,
        denied_backoff: Backoff = DENIED_RETRY,
    ) -> None:
        self._api = api
        self._scopes: list[Scope] = (
            [None] if namespaces is None else list(dict.fromkeys(namespaces))
        )
        if not self._scopes:
            raise ValueError("namespaces: give at least one, or None for all namespaces")
        self._on_event = on_event
        self._page_size = page_size
        self._watch_timeout = watch_timeout
        self._backoff = backoff
        self._denied_backoff = denied_backoff
        self._known: dict[Scope, dict[GateKey, str]] = {scope: {} for scope in self._scopes}
        self._versions: dict[Scope, str | None] = dict.fromkeys(self._scopes)
        self._listed: set[Scope] = set()
        self._stopping = asyncio.Event()
        # Set once every scope has been listed completely (after the first Synced).
        self.synced = asyncio.Event()

    def stop(self) -> None:
        """Make run() return (it cancels its watches)."""
        self._stopping.set()

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._run_scope(scope), name=f"gate-informer {scope or '*'}")
            for scope in self._scopes
        ]
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in [stopping, *tasks]:
                task.cancel()
            await asyncio.gather(stopping, *tasks, return_exceptions=True)

    async def _run_scope(self, scope: Scope) -> None:
        failures = 0
        gone = 0
        while True:
            try:
                if self._versions[scope] is None:
                    await self._list(scope)
                    failures = 0
                started = time.monotonic()
                received = await self._watch(scope)
                if received or time.monotonic() - started >= SHORT_WATCH:
                    failures = gone = 0
                    continue  # the server closed the watch as asked: resume at once
                failures += 1
                await asyncio.sleep(self._backoff.delay(failures))
            except _Gone as expired:
                gone += 1
                self._versions[scope] = None
                self._api.stats.relists += 1
                logger.info("%s: %s; listing again", _where(scope), expired)
                if gone > 1:  # expired again right away: do not spin
                    await asyncio.sleep(self._backoff.delay(gone - 1))
            except KubeError as error:
                failures += 1
                await asyncio.sleep(self._retry_delay(scope, error, failures))
            except Exception as error:  # a bug must not end the informer; say so loudly
                failures += 1
                delay = self._backoff.delay(failures)
                logger.error(
                    "%s: unexpected %r; retrying in %.1fs",
                    _where(scope),
                    error,
                    delay,
                    exc_info=error,
                )
                await asyncio.sleep(delay)

    def _retry_delay(self, scope: Scope, error: KubeError, failures: int) -> float:
        if self._versions[scope] is not None:
            self._api.stats.watch_restarts += 1
        if isinstance(error, Forbidden):
            delay = self._denied_backoff.delay(failures)
            logger.error(
                "%s: access denied (%s); canarygate needs list and watch on %s.%s; "
                "retrying in %.0fs",
                _where(scope),
                error,
                PLURAL,
                GROUP,
                delay,
            )
        elif isinstance(error, NotFound):
            delay = self._backoff.delay(failures)
            logger.error(
                "%s: %s; is the CanaryGate CRD installed? retrying in %.1fs",
                _where(scope),
                error,
                delay,
            )
        else:
            delay = self._backoff.delay(failures)
            logger.warning("%s: %s; retrying in %.1fs", _where(scope), error, delay)
        return delay

    async def _list(self, scope: Scope) -> None:
        known = self._known[scope]
        seen: set[GateKey] = set()
        token: str | None = None
        version: str | None = None
        while True:
            try:
                page = await self._api.list_gates(
                    scope, limit=self._page_size, continue_token=token
                )
            except KubeError as error:
                if error.status == 410:
                    raise _Gone("the list's continue token expired") from None
                raise
            for item in page.get("items") or ():
                seen.add(await self._upsert(scope, item))
            metadata = page.get("metadata") or {}
            version = metadata.get("resourceVersion") or version
            token = metadata.get("continue") or None
            del page  # one page at a time in memory, never the whole list
            if token is None:
                break
        if not version:
            raise KubeUnavailable(
                "the list answered without a resourceVersion",
                verb="list",
                target=target(GROUP, PLURAL, scope),
            )
        for key in [key for key in known if key not in seen]:
            await self._deliver(Deleted(key[0], key[1], known.pop(key)))
        self._versions[scope] = version
        self._listed.add(scope)
        if len(self._listed) == len(self._scopes):
            keys = frozenset(key for scoped in self._known.values() for key in scoped)
            await self._deliver(Synced(keys))
            self.synced.set()

    async def _watch(self, scope: Scope) -> int:
        """Watch until the server closes the stream; the number of events received."""
        version = self._versions[scope]
        assert version is not None
        timeout = int(self._watch_timeout * (1.0 + random.random()))
        received = 0
        try:
            async with self._api.watch_gates(
                scope, resource_version=version, timeout_seconds=timeout
            ) as events:
                async for event in events:
                    received += 1
                    await self._apply(scope, event)
        except KubeError as error:
            if error.status == 410:
                since = self._versions[scope]
                raise _Gone(f"watch from resourceVersion {since}: {error.message}") from None
            raise
        return received

    async def _apply(self, scope: Scope, event: dict[str, Any]) -> None:
        kind = event.get("type")
        body = event.get("object")
        if not isinstance(body, dict):
            raise KubeUnavailable(
                f"a {kind} watch event without an object",
                verb="watch",
                target=target(GROUP, PLURAL, scope),
            )
        if kind == "ERROR":
            code = body.get("code")
            message = str(body.get("message") or body.get("reason") or "watch error")
            # A 410 here (expired resourceVersion) becomes a relist in _watch, like an HTTP 410.
            error = error_for_status(
                code if isinstance(code, int) else 500,
                message,
                verb="watch",
                target=target(GROUP, PLURAL, scope),
            )
            self._api.stats.errors[type(error).__name__] += 1
            raise error
        version = (body.get("metadata") or {}).get("resourceVersion")
        if kind in ("ADDED", "MODIFIED"):
            await self._upsert(scope, body)
        elif kind == "DELETED":
            metadata = body.get("metadata") or {}
            key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
            self._known[scope].pop(key, None)
            await self._deliver(Deleted(key[0], key[1], str(metadata.get("uid", ""))))
        elif kind != "BOOKMARK":
            logger.warning("%s: ignoring a watch event of type %r", _where(scope), kind)
        if version:
            self._versions[scope] = str(version)

    async def _upsert(self, scope: Scope, body: dict[str, Any]) -> GateKey:
        metadata = body.get("metadata") or {}
        key = (str(metadata.get("namespace", "")), str(metadata.get("name", "")))
        uid = str(metadata.get("uid", ""))
        known = self._known[scope]
        previous = known.get(key)
        if previous is not None and previous != uid:
            await self._deliver(Deleted(key[0], key[1], previous))
        known[key] = uid
        # List items may omit these; the consumer gets whole objects either way.
        body.setdefault("apiVersion", API_VERSION)
        body.setdefault("kind", KIND)
        await self._deliver(Upsert(body))
        return key

    async def _deliver(self, event: InformerEvent) -> None:
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception as error:  # the consumer's bug: report it, keep informing
            logger.error(
                "gate informer: the event handler failed on %s: %r",
                type(event).__name__,
                error,
                exc_info=error,
            )


def _where(scope: Scope) -> str:
    return f"gate informer ({'all namespaces' if scope is None else scope})"
