"""Leader election on a coordination.k8s.io/v1 Lease: one active operator among replicas.

The holder renews the Lease every `renew_every` seconds. A candidate takes it over only when
it has seen no change of the Lease for `duration` seconds of its own clock (it never
compares timestamps written by another machine, so clock skew does not matter, as in
client-go). The holder stops acting as soon as it could not renew for `renew_deadline`
seconds, which is shorter than `duration`: by the time a candidate may take over, the old
holder has stopped. The holder counts its lead from the moment it *sent* a renewal (the
server applied it later, and a candidate saw it later still), so a slow answer never
stretches it. Losing a write race (409) means someone else holds it.

Takeover after the holder dies: the candidate sees the last renewal within `renew_every`
of it being written, waits `duration` from then, and checks every `renew_every`, so it
acquires the Lease at most `duration + 2 x renew_every` (plus API round trips) after the
holder's last renewal, and never less than `duration` after it. A holder that stops
cleanly empties `holderIdentity`, which a candidate takes at its next attempt.

Give the elector a connection of its own (see `connect`), not the operator's: a renewal
must not queue behind the operator's bounded gate writes.

    elector = LeaderElector(api, LeaseSettings(namespace="canarygate", name="canarygate"))
    elector.is_leader        # checked before every write the operator makes (fencing)
    await elector.run(on_change)   # until stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canarygate.core.errors import Conflict, KubeError, NotFound

log = logging.getLogger("canarygate.leases")


@dataclass(frozen=True)
class LeaseRef:
    """The Lease as an ObjectRefLike for KubeApi's generic object calls."""

    namespace: str
    name: str
    group: str = "coordination.k8s.io"
    version: str = "v1"
    kind: str = "Lease"
    plural: str = "leases"


@dataclass(frozen=True)
class LeaseSettings:
    namespace: str
    name: str = "canarygate"
    identity: str = field(
        default_factory=lambda: (
            f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        )
    )
    duration: float = 15.0
    renew_deadline: float = 10.0
    renew_every: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.renew_every < self.renew_deadline < self.duration:
            raise ValueError("lease timing must be 0 < renew_every < renew_deadline < duration")


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _micro_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    def __init__(
        self,
        api: Any,
        settings: LeaseSettings,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.api = api
        self.settings = settings
        self.ref = LeaseRef(settings.namespace, settings.name)
        self._monotonic = monotonic
        self._wall = wall
        self._renewed_at: float | None = None  # our last successful renewal (monotonic)
        self._seen: tuple[str, str] | None = None  # (resourceVersion, holder) last observed
        self._seen_at = 0.0  # when that last changed (monotonic)
        self._stopping = asyncio.Event()
        self.last_attempt = monotonic()  # when the loop last came round (liveness)
        self.holder: str | None = None
        self.transitions = 0

    @property
    def is_leader(self) -> bool:
        """True while our last renewal is recent enough that nobody else may take over."""
        renewed = self._renewed_at
        return renewed is not None and self._monotonic() - renewed < self.settings.renew_deadline

    def stop(self) -> None:
        self._stopping.set()

    async def run(self, on_change: Callable[[bool], None]) -> None:
        """Try to acquire or renew every `renew_every` seconds; call `on_change(leading)`
        whenever leadership starts or ends. Returns after stop(), releasing the Lease."""
        leading = False
        while not self._stopping.is_set():
            self.last_attempt = self._monotonic()
            try:
                # One attempt never outlasts the time a holder may lead without renewing.
                await asyncio.wait_for(self.attempt(), timeout=self.settings.renew_deadline)
            except TimeoutError:
                log.warning("Lease %s/%s: no answer in time", self.ref.namespace, self.ref.name)
            except Exception:  # a bug must not end the elections: this replica would idle
                log.exception("Lease %s/%s: unexpected failure", self.ref.namespace, self.ref.name)
            if self.is_leader != leading:
                leading = self.is_leader
                log.info(
                    "%s leadership of Lease %s/%s (%s)",
                    "acquired" if leading else "lost",
                    self.ref.namespace,
                    self.ref.name,
                    self.settings.identity,
                )
                on_change(leading)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.settings.renew_every)
        if leading:
            on_change(False)
            await self._release()

    async def attempt(self) -> None:
        """One try to acquire or renew the Lease (`run` makes one every `renew_every`)."""
        try:
            lease = await self._read()
            if lease is None:
                await self._create()
                return
            spec = lease.get("spec") or {}
            holder = str(spec.get("holderIdentity") or "")
            self.holder = holder or None
            version = str((lease.get("metadata") or {}).get("resourceVersion", ""))
            now = self._monotonic()
            if self._seen != (version, holder):
                self._seen, self._seen_at = (version, holder), now
            mine = holder == self.settings.identity
            # The longer of our duration and the holder's: a replica started with a longer
            # Lease is never overtaken before its own deadline.
            duration = max(self.settings.duration, _seconds(spec.get("leaseDurationSeconds")))
            expired = not holder or now - self._seen_at > duration
            if mine or expired:
                await self._write(lease, take_over=not mine)
        except Conflict:
            pass  # someone else wrote first: they hold it, or we learn it next time
        except KubeError as error:
            log.warning("Lease %s/%s: %s", self.ref.namespace, self.ref.name, error)

    async def _read(self) -> dict[str, Any] | None:
        found: dict[Any, dict[str, Any]] = await self.api.read_objects([self.ref])
        return found.get(self.ref)

    def _spec(self, transitions: int, acquired: str) -> dict[str, Any]:
        return {
            "holderIdentity": self.settings.identity,
            "leaseDurationSeconds": round(self.settings.duration),
            "acquireTime": acquired,
            "renewTime": _micro_time(self._wall()),
            "leaseTransitions": transitions,
        }

    async def _create(self) -> None:
        now = _micro_time(self._wall())
        sent = self._monotonic()
        try:
            await self.api.create_object(self.ref, {"spec": self._spec(0, now)})
        except Conflict:
            return  # another replica created it first
        except NotFound as error:  # no such namespace: nobody will ever lead; say so
            log.warning(
                "cannot create Lease %s/%s (does the namespace exist?): %s",
                self.ref.namespace,
                self.ref.name,
                error,
            )
            return
        self._renewed_at = sent
        self.holder = self.settings.identity
        log.info(
            "created Lease %s/%s (%s)", self.ref.namespace, self.ref.name, self.settings.identity
        )

    async def _write(self, lease: dict[str, Any], *, take_over: bool) -> None:
        spec = lease.get("spec") or {}
        transitions = int(spec.get("leaseTransitions") or 0) + (1 if take_over else 0)
        acquired = _micro_time(self._wall()) if take_over else spec.get("acquireTime")
        body = {**lease, "spec": self._spec(transitions, str(acquired))}
        sent = self._monotonic()
        written = await self.api.replace_object(self.ref, body)
        self._renewed_at = sent
        self.holder = self.settings.identity
        self.transitions = transitions
        self._seen = (str((written.get("metadata") or {}).get("resourceVersion", "")),
                      self.settings.identity)  # fmt: skip
        self._seen_at = sent

    async def _release(self) -> None:
        """Hand over at once on a clean shutdown: an empty holder may be taken immediately."""
        try:
            lease = await self._read()
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != (
                self.settings.identity
            ):
                return
            body = {**lease, "spec": {**(lease.get("spec") or {}), "holderIdentity": ""}}
            await self.api.replace_object(self.ref, body)
        except KubeError as error:
            log.warning("Lease %s/%s not released: %s", self.ref.namespace, self.ref.name, error)
        self._renewed_at = None
