"""The operator's engine: compact records fed by the informer, one scheduler for all gates.

Every tick takes the gates that are due, evaluates the evaluable ones together (one batch per
Prometheus, identical queries sent once across gates, each Prometheus on its own so a slow one
delays nobody else), then lets each gate take its one transition in its own task, bounded in
number. A gate that fails is retried with a growing backoff; the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canarygate.core.decisions import Decision
from canarygate.core.durations import Duration
from canarygate.core.errors import ConfigurationError, SpecError
from canarygate.core.observations import Observations
from canarygate.core.state import GateState
from canarygate.evaluating import (
    ClientPool,
    Connection,
    GateName,
    MissingAddress,
    config_for,
    decide_checked,
    evaluate_specs,
)
from canarygate.metrics.prometheus import PrometheusConfig
from canarygate.operator.context import Notify
from canarygate.operator.logs import gate_fields
from canarygate.operator.observing import Observer
from canarygate.operator.records import GateKey, GateRecord, key_of, record_from
from canarygate.operator.rollouts import Next, Rollouts, RolloutSettings
from canarygate.operator.scheduling import DueQueue, Slots
from canarygate.webhooks import WebhookCaller

log = logging.getLogger("canarygate.operator")


@dataclass(frozen=True)
class RuntimeSettings:
    connection: Connection = field(default_factory=Connection)
    rollouts: RolloutSettings = field(default_factory=RolloutSettings)
    # Gates processed at once; Kubernetes writes are bounded again inside the API client.
    concurrency: int = 64
    # Gates taken into work (evaluated, then transitioned) at once at most: what bounds the
    # memory of a tick when thousands of gates come due together (a start, a restart). Once
    # reached, more are taken when half of those are done.
    max_in_flight: int = 2000
    # The scheduler wakes at least this often, so liveness can tell it is not stuck.
    idle_wakeup_seconds: float = 5.0
    # Answer slow windows (1d and longer) from earlier readings where that cannot change a
    # decision (core.slow_windows); off, every window is read every tick.
    window_cache: bool = True
    # Gates of one interval share a slot of the scheduler's grid, one batch, up to this many
    # (or their even share of the interval's slots, if more); then the next slot with room.
    shared_slot_gates: int = 250
    # Gates due within this much of each other are evaluated in the same batch.
    batch_window_seconds: float = 0.25
    # The instant evaluations are made at and status times are written with. Benchmarks
    # replaying a fixed history pin it; everything else keeps the wall clock.
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Runtime:
    def __init__(
        self,
        rollouts_store: Any,
        settings: RuntimeSettings = RuntimeSettings(),
        observer: Observer | None = None,
        notify: Notify | None = None,
    ) -> None:
        self.settings = settings
        self.observer = observer or Observer()
        self.records: dict[GateKey, GateRecord] = {}
        self.queue: DueQueue[GateKey] = DueQueue()
        self.slots = Slots(settings.shared_slot_gates)
        self.pool = ClientPool()
        self.webhooks = WebhookCaller()
        # Set by the verdict API when it runs: told of every evaluation the scheduler makes,
        # and asked what it answered whom about a gate (judge-only gates record it).
        self.on_evaluated: (
            Callable[[GateRecord, GateState, Decision, Observations], None] | None
        ) = None
        self.callers_of: Callable[[GateKey], list[dict[str, Any]]] = lambda _: []
        self.rollouts = Rollouts(
            rollouts_store,
            self.remember,
            settings.rollouts,
            clock=settings.clock,
            notify=notify,
            safety=self.observer,
            callers=lambda key: self.callers_of(key),  # noqa: PLW0108 (bound later)
        )
        self._busy: set[GateKey] = set()
        self._room = asyncio.Event()  # set when few enough gates are in work to take more
        self._configs: dict[tuple[str | None, float | None], PrometheusConfig] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._stopping = asyncio.Event()
        self.synced = asyncio.Event()
        self.last_loop = time.monotonic()
        # Whether this replica acts (leader election clears it on a standby): a standby keeps
        # its records current and scheduled, so that it takes over at once.
        self._active = asyncio.Event()
        self._active.set()

    # -- the informer's side ----------------------------------------------------------------

    def remember(self, body: Mapping[str, Any]) -> None:
        """Take a CanaryGate body (from the informer or from our own write) into its record."""
        key = key_of(body)
        old = self.records.get(key)
        if old is not None and _not_newer(body, old.resource_version):
            # A late watch event after our own newer write, or the event of our own write
            # (already taken in from the write's answer): nothing new, no record to rebuild.
            return
        record = record_from(body, old)
        if old is not None:
            record.failures = old.failures
            record.last_drift_check = old.last_drift_check
            record.last_due = old.last_due
            record.notes = old.notes
            record.poked = old.poked
            record.reported_weight = old.reported_weight
        self.records[key] = record
        changed = (
            old is None
            or record.generation != old.generation
            or record.deleting != old.deleting
            or record.approvals != old.approvals  # an approval takes effect at once
            or record.controls != old.controls  # so does a control: an abort is urgent
        )
        if changed and key in self._busy:
            record.poked = True  # seen again as soon as the transition in flight is done
        elif changed:
            self.queue.schedule(key, time.monotonic())
        self.observer.gate_changed(old, record)

    def forget(self, namespace: str, name: str) -> None:
        key = GateKey(namespace, name)
        record = self.records.pop(key, None)
        self.queue.discard(key)
        self.observer.gate_changed(record, None)

    def synced_with(self, keys: Sequence[tuple[str, str]]) -> None:
        """After a complete list: drop records of gates that no longer exist."""
        present = {GateKey(namespace, name) for namespace, name in keys}
        for key in [k for k in self.records if k not in present]:
            self.forget(key.namespace, key.name)
        self.synced.set()

    # -- the scheduler's side ---------------------------------------------------------------

    async def run(self) -> None:
        """Tick until stopped: wake for the earliest due gate, take every gate due by then (up
        to `max_in_flight` gates in work at once: the rest wait, and their lag says so)."""
        while not self._stopping.is_set():
            self.last_loop = time.monotonic()
            if len(self._busy) >= self.settings.max_in_flight:
                self._room.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._room.wait(), timeout=self.settings.idle_wakeup_seconds
                    )
                continue
            await self.queue.wait_for_due(
                time.monotonic(), longest=self.settings.idle_wakeup_seconds
            )
            if self._stopping.is_set():
                break
            if not self._active.is_set():
                # Standby: nothing is popped, everything stays scheduled.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._active.wait(), timeout=self.settings.idle_wakeup_seconds
                    )
                continue
            now = time.monotonic()
            room = self.settings.max_in_flight - len(self._busy)
            due = self.queue.pop_due(now + self.settings.batch_window_seconds, limit=room)
            if due:
                self.slots.forget_before(now)
                self.observer.tick_started(max(0.0, now - due[0][1]), len(due))
                self._tick(due)
        await self._drain()

    @property
    def active(self) -> bool:
        return self._active.is_set()

    def set_active(self, active: bool) -> None:
        """Act (leader) or only watch (standby); the loop picks it up at once. A replica that
        becomes active looks at every gate now: the one that led before may have died in the
        middle of a step, and only the status (kept current by the informer) says where."""
        if active and not self._active.is_set():
            now = time.monotonic()
            for key in self.records:
                if key not in self._busy:
                    self.queue.schedule(key, now)
        if active:
            self._active.set()
        else:
            self._active.clear()
        self.queue.schedule(GateKey("", ""), 0.0)  # wake the loop to notice
        self.queue.discard(GateKey("", ""))

    async def stop(self) -> None:
        self._stopping.set()
        self._room.set()
        self.queue.schedule(GateKey("", ""), 0.0)  # wake the loop
        self.queue.discard(GateKey("", ""))
        await self._drain()
        await self.pool.aclose()
        await self.webhooks.aclose()

    def _tick(self, due: list[tuple[GateKey, float]]) -> None:
        records = []
        for key, when in due:
            record = self.records.get(key)
            if record is not None and key not in self._busy:
                record.last_due = when
                records.append(record)
        groups: dict[PrometheusConfig, list[GateRecord]] = {}
        others: list[GateRecord] = []
        for record in records:
            self._busy.add(record.key)
            config = self.config_of(record) if record.evaluable else None
            if config is None:
                others.append(record)
            else:
                groups.setdefault(config, []).append(record)
        work = [self._evaluate_and_process(config, group) for config, group in groups.items()]
        work += [self._process(record, None) for record in others]
        if work:
            self._spawn(self._run_tick(work))

    async def _run_tick(self, work: list[Any]) -> None:
        """The tick's batches and transitions, concurrently; its duration once all are done."""
        started = time.monotonic()
        await asyncio.gather(*work, return_exceptions=True)
        self.observer.tick_finished(time.monotonic() - started)

    def config_of(self, record: GateRecord) -> PrometheusConfig | None:
        """The Prometheus a gate is evaluated against, or None (with `record.problem` set
        when the gate's own settings are at fault)."""
        timeout = record.prometheus_timeout_seconds
        known = self._configs.get((record.prometheus_address, timeout))
        if known is not None:
            return known
        config = self._new_config(record)
        if config is not None:  # kept: every gate asks for its config every tick
            self._configs[(record.prometheus_address, timeout)] = config
        return config

    def _new_config(self, record: GateRecord) -> PrometheusConfig | None:
        timeout = record.prometheus_timeout_seconds
        try:
            return config_for(
                record.prometheus_address,
                Duration(round(timeout * 1000)) if timeout else None,
                self.settings.connection,
            )
        except MissingAddress:
            record.problem = (
                "spec.prometheus.address: the gate names no Prometheus and the operator has no "
                "default (--prometheus)"
            )
            return None
        except SpecError as error:  # an address the API's pattern let through, unusable
            record.problem = f"{error.field}: {error.message}"
            return None
        except ConfigurationError as error:  # the operator's own TLS or auth settings
            log.error(
                "gate %s: Prometheus settings unusable: %s",
                record.key,
                error,
                extra=gate_fields(record.key, record.revision),
            )
            return None

    async def _evaluate_and_process(
        self, config: PrometheusConfig, group: list[GateRecord]
    ) -> None:
        at = self.settings.clock()
        started = time.monotonic()
        client = self.pool.client_for(config)
        cache = self.pool.cache_for(config) if self.settings.window_cache else None
        states = [r.evaluation_state for r in group]
        try:
            report = await evaluate_specs(
                [(r.spec, s) for r, s in zip(group, states, strict=True) if r.spec is not None],
                client,
                at,
                planned=[r.planned for r in group if r.spec is not None],
                controls=[r.decide_controls for r in group if r.spec is not None],
                cache=cache,
                slow=[r.slow for r in group if r.spec is not None] if cache is not None else None,
            )
        except Exception:  # the evaluation path never raises for telemetry; this is a bug
            log.exception("evaluating %d gates against %s failed", len(group), config.address)
            for record in group:
                self._finished(record.key, Next(failed=True))
            return
        self.observer.evaluated(report, time.monotonic() - started)
        if self.on_evaluated is not None:
            for record, state, decision, observed in zip(
                group, states, report.decisions, report.observations, strict=True
            ):
                self.on_evaluated(record, state, decision, observed)
        await asyncio.gather(
            *(
                self._checked_then_process(record, decision, observed)
                for record, decision, observed in zip(
                    group, report.decisions, report.observations, strict=True
                )
            )
        )

    async def _checked_then_process(
        self, record: GateRecord, decision: Decision, observed: Observations
    ) -> None:
        """A decision that still needs webhook checks' answers is made again with them (only
        this gate waits for its hooks), then the gate takes its transition."""
        if decision.checks_wanted and record.spec is not None:
            try:
                decision = await decide_checked(
                    record.spec,
                    record.state,
                    observed,
                    decision,
                    self.webhooks,
                    GateName(record.key.namespace, record.key.name, record.revision),
                    controls=record.decide_controls,
                )
            except Exception:  # the client never raises for a hook; this is a bug: hold
                log.exception(
                    "gate %s: calling its webhook checks failed",
                    record.key,
                    extra=gate_fields(record.key, record.revision),
                )
        await self._process(record, decision)

    async def _process(self, record: GateRecord, decision: Decision | None) -> None:
        if decision is not None:
            self.observer.before_transition(record, decision)
        async with self._limit:
            try:
                outcome = await self.rollouts.process(record, decision)
            except Exception:  # a bug must cost one gate a backoff, never the operator
                log.exception(
                    "gate %s: unexpected failure; retrying with backoff",
                    record.key,
                    extra=gate_fields(record.key, record.revision),
                )
                outcome = Next(failed=True)
        if decision is not None:
            self.observer.decided(record, decision, held=outcome.held)
        self._finished(record.key, outcome)

    def _finished(self, key: GateKey, outcome: Next) -> None:
        self._busy.discard(key)
        if len(self._busy) <= self.settings.max_in_flight // 2:
            self._room.set()
        record = self.records.get(key)
        if record is None:
            return
        if outcome.forget:
            self.forget(key.namespace, key.name)
            return
        if outcome.failed:
            record.failures += 1
            backoff = min(
                self.settings.rollouts.max_backoff_seconds, 2.0 * 2 ** (record.failures - 1)
            )
            delay = backoff if outcome.after is None else outcome.after
        else:
            record.failures = 0
            delay = record.interval_seconds if outcome.after is None else outcome.after
        now = time.monotonic()
        due = now + delay
        on_grid = outcome.after is None and not outcome.failed
        if on_grid:
            # One interval after it was last due, never in the past: a gate whose transition
            # outlasted its interval comes round at once (counted), not once per interval
            # missed.
            base = record.last_due if record.last_due is not None else now
            if base + delay < now:
                self.observer.overran()
            due = max(base + delay, now)
        if record.poked:  # something arrived while it was busy (an approval, a control)
            record.poked = False
            due = now
        elif on_grid:  # on a slot of the shared grid with room (counted in its load)
            due = self.slots.place(due, record.interval_seconds, len(self.records))
        earlier = self.queue.due_at(key)
        self.queue.schedule(key, due if earlier is None else min(due, earlier))

    def _spawn(self, work: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        tasks = list(self._tasks)
        if tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait(tasks, timeout=30)


def _not_newer(body: Mapping[str, Any], known: str) -> bool:
    incoming = str((body.get("metadata") or {}).get("resourceVersion", ""))
    if incoming.isdigit() and known.isdigit():
        return int(incoming) <= int(known)
    return False
