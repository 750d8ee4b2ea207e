"""`canarygate run`: the operator on kopf's runtime.

kopf provides what costs nothing per object: the process lifecycle (startup and cleanup
handlers, SIGTERM and SIGINT), login, and later peering. It gets no handler on CanaryGates:
measured here, kopf's per-object machinery does not hold 10,000 gates (an index of them took
over 7 minutes), so the gates are watched by canarygate's own informer into compact records
and driven by one scheduler (see `runtime`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import kopf

from canarygate.core.errors import KubeError
from canarygate.kube import (
    Deleted,
    GateInformer,
    InformerEvent,
    KubeApi,
    Synced,
    Upsert,
    connect,
)
from canarygate.kube.leasing import LeaderElector, LeaseSettings
from canarygate.operator import heap
from canarygate.operator.authenticating import Authenticator
from canarygate.operator.fencing import FencedStore
from canarygate.operator.logs import configure_logging
from canarygate.operator.notifying import NotificationSettings, Notifier
from canarygate.operator.observing import Observer
from canarygate.operator.runtime import Runtime, RuntimeSettings
from canarygate.operator.serving import make_app, serve
from canarygate.operator.verdict_serving import VerdictApi, VerdictApiSettings, serve_verdicts
from canarygate.operator.verdicts import Verdicts
from canarygate.traffic import ObjectRef

log = logging.getLogger("canarygate.operator")


@dataclass(frozen=True)
class RunSettings:
    kubeconfig: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: every namespace
    metrics_address: str | None = "0.0.0.0:8080"
    health_address: str | None = "0.0.0.0:8081"
    log_format: str = "text"
    log_level: str = "INFO"
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    # With several replicas: the Lease they elect the active one with (None: act alone).
    leader_election: LeaseSettings | None = None
    # The verdict API (off without an address).
    verdict: VerdictApiSettings = field(default_factory=VerdictApiSettings)


class Operator:
    """The pieces started on kopf's startup and stopped on its cleanup."""

    def __init__(self, settings: RunSettings) -> None:
        self.settings = settings
        self.observer = Observer()
        self.api: KubeApi | None = None
        self.runtime: Runtime | None = None
        self.informer: GateInformer | None = None
        self.notifier: Notifier | None = None
        self.elector: LeaderElector | None = None
        self.lease_api: KubeApi | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._servers: list[Any] = []
        self.verdicts: Verdicts | None = None
        self.authenticator: Authenticator | None = None

    async def start(self) -> None:
        self.api = connect(self.settings.kubeconfig)
        store: Any = self.api
        if self.settings.leader_election is not None:
            # The Lease has a connection of its own: a renewal never waits behind the
            # operator's own bounded gate writes (thousands at once when gates start).
            self.lease_api = connect(self.settings.kubeconfig)
            elector = self.elector = LeaderElector(self.lease_api, self.settings.leader_election)
            store = FencedStore(self.api, lambda: elector.is_leader)
        if self.settings.notifications.secrets:
            leader = self.elector
            self.notifier = Notifier(
                self.api,
                self.settings.notifications,
                self.observer.registry,
                active=(lambda: leader.is_leader) if leader is not None else lambda: True,
                clock=self.settings.runtime.clock,
            )
            await self.notifier.start()
        self.runtime = Runtime(store, self.settings.runtime, self.observer, notify=self.notifier)
        api, runtime = self.api, self.runtime
        self.observer.attach(lambda: api.stats, lambda: runtime.pool)
        if self.elector is not None:
            runtime.set_active(False)
            self.observer.leading(False)
            self._lease_task = asyncio.create_task(
                self.elector.run(self._leading), name="canarygate lease"
            )
        self.informer = GateInformer(
            self.api, list(self.settings.namespaces) or None, self._on_event
        )
        heap.collect_young_less_often()
        self._tasks += [
            asyncio.create_task(self.informer.run(), name="canarygate informer"),
            asyncio.create_task(self.runtime.run(), name="canarygate scheduler"),
            asyncio.create_task(heap.keep_frozen(self.runtime.synced), name="canarygate heap"),
        ]
        await self._serve()
        if self.settings.verdict.address:
            await self._serve_verdicts(self.settings.verdict.address)
        log.info(
            "canarygate operator started (%s)",
            ", ".join(self.settings.namespaces) or "all namespaces",
        )

    async def _serve(self) -> None:
        runtime = self.runtime
        assert runtime is not None
        elector = self.elector

        def last_loop() -> float:
            """The older of the scheduler's and (with leader election) the Lease loop's last
            round: either one stuck makes the replica useless."""
            if elector is None:
                return runtime.last_loop
            return min(runtime.last_loop, elector.last_attempt)

        addresses = {self.settings.health_address, self.settings.metrics_address} - {None}
        for address in sorted(a for a in addresses if a):
            app = make_app(
                registry=self.observer.registry,
                ready=runtime.synced.is_set,
                last_loop=last_loop,
                health=address == self.settings.health_address,
                metrics=address == self.settings.metrics_address,
            )
            self._servers.append(await serve(app, address))

    async def _serve_verdicts(self, address: str) -> None:
        runtime, api = self.runtime, self.api
        assert runtime is not None
        assert api is not None
        settings = self.settings.verdict
        verdicts = self.verdicts = Verdicts(runtime, settings.verdicts, self.observer)
        runtime.on_evaluated = verdicts.evaluated
        runtime.callers_of = verdicts.callers_of
        self.authenticator = Authenticator(api, settings.auth)
        await self.authenticator.start()

        async def canary_weight(namespace: str, name: str) -> int | None:
            """A Flagger Canary's weight now (its status.canaryWeight), or None."""
            ref = ObjectRef("flagger.app", "v1beta1", "Canary", "canaries", namespace, name)
            try:
                found = await api.read_objects([ref])
            except KubeError as error:
                log.warning("verdict API: cannot read Canary %s/%s: %s", namespace, name, error)
                return None
            weight = ((found.get(ref) or {}).get("status") or {}).get("canaryWeight")
            if isinstance(weight, int) and not isinstance(weight, bool) and 0 <= weight <= 100:
                return weight
            return None

        server = VerdictApi(
            verdicts, self.authenticator, self.observer, settings, canary_weight=canary_weight
        )
        self._servers.append(await serve_verdicts(server, address))
        log.info("verdict API listening on %s", address)

    def _leading(self, leading: bool) -> None:
        assert self.runtime is not None
        self.runtime.set_active(leading)
        self.observer.leading(leading)

    def _on_event(self, event: InformerEvent) -> None:
        runtime = self.runtime
        assert runtime is not None
        if isinstance(event, Upsert):
            runtime.remember(event.body)
        elif isinstance(event, Deleted):
            runtime.forget(event.namespace, event.name)
        elif isinstance(event, Synced):
            runtime.synced_with(sorted(event.keys))

    async def stop(self) -> None:
        if self.informer is not None:
            self.informer.stop()
        if self.runtime is not None:
            await self.runtime.stop()  # transitions in flight finish while we still lead
        if self.elector is not None and self._lease_task is not None:
            # Then hand the Lease over (an empty holder), so a standby takes over at its
            # next attempt instead of waiting out the Lease.
            self.elector.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._lease_task, timeout=10)
        if self.notifier is not None:  # after the runtime: nothing is announced any more
            await self.notifier.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for server in self._servers:
            await server.cleanup()
        if self.verdicts is not None:
            await self.verdicts.close()
        if self.authenticator is not None:
            await self.authenticator.close()
        if self.api is not None:
            await self.api.close()
        if self.lease_api is not None:
            await self.lease_api.close()
        log.info("canarygate operator stopped")


def run(settings: RunSettings) -> int:
    """Run until SIGTERM or SIGINT; returns the process exit code."""
    configure_logging(settings.log_format, settings.log_level)
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig  # kopf's own login reads it too
    operator = Operator(settings)
    registry = kopf.OperatorRegistry()

    @kopf.on.startup(registry=registry)
    async def _startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        settings.posting.enabled = False  # our Events are our own, not log lines
        # kopf serves no resource here (canarygate has its own informer), so it need not
        # list and watch CRDs and Namespaces cluster-wide: rights the chart does not grant.
        settings.scanning.disabled = True
        await operator.start()

    @kopf.on.cleanup(registry=registry)
    async def _cleanup(**_: Any) -> None:
        await operator.stop()

    @kopf.on.login(registry=registry)
    def _login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    kopf.run(
        registry=registry,
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=list(settings.namespaces),
    )
    return 0
