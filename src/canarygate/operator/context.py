"""What every rollout transition needs: the store, the clock, the settings, and the few
writes they all make (a status patch that re-reads on conflict, an Event, the conditions).

`GateContext` is handed to the transition functions of `lifecycle`, `moving`, `holding` and
`drifting`; `Rollouts` (in `rollouts`) picks the one transition a gate takes now.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from canarygate.api.status import ConditionUpdate, merge_conditions, rfc3339
from canarygate.core.vocabulary import Action
from canarygate.kube import Conflict, EventType, GateRef
from canarygate.operator import conditions
from canarygate.operator.actuating import ObjectStore
from canarygate.operator.logs import gate_fields
from canarygate.operator.records import GateKey, GateRecord
from canarygate.operator.vocabulary import EventReason
from canarygate.traffic import TrafficBackend, backend_for

log = logging.getLogger("canarygate.operator")


class GateStore(ObjectStore, Protocol):
    async def get_gate(self, namespace: str, name: str) -> dict[str, Any]: ...

    async def patch_gate_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]: ...

    async def set_gate_finalizers(
        self, namespace: str, name: str, finalizers: list[str], *, resource_version: str
    ) -> dict[str, Any]: ...

    async def emit_event(
        self, gate: GateRef, *, type: EventType, reason: str, message: str
    ) -> None: ...


@dataclass(frozen=True)
class RolloutSettings:
    heartbeat_seconds: float = 600.0
    drift_check_seconds: float = 300.0
    # An intent older than this many intervals (and at least the minimum) is decided again.
    intent_ttl_intervals: float = 2.0
    intent_ttl_minimum_seconds: float = 60.0
    max_backoff_seconds: float = 300.0


@dataclass(frozen=True)
class Next:
    """When the scheduler should see the gate again, in seconds from now (None: at its
    interval), and whether the gate failed (which grows its backoff)."""

    after: float | None = None
    failed: bool = False
    forget: bool = False
    # The decision would have moved traffic, but the gate held: it waits for a person's
    # approval or for the routing to carry the current weight.
    held: bool = False


AT_INTERVAL = Next()
HELD = Next(held=True)
SOON = Next(after=1.0)


@dataclass(frozen=True)
class Transition:
    """What happened to a gate, as its Event says it, with the gate as just written (its
    status holds the evidence: health, journeys, guardrails, the matrix cell, history)."""

    gate: Mapping[str, Any]
    reason: EventReason
    message: str
    warning: bool


class SafetyMetrics(Protocol):
    """The release-safety metrics a transition feeds (operator.observing.Observer)."""

    def rolled_back(self, record: GateRecord, trigger: str) -> None: ...

    def force_promoted(self, record: GateRecord) -> None: ...


class Notify(Protocol):
    def __call__(self, transition: Transition) -> None:
        """Take a transition for delivery; must return at once and never raise."""


class GateContext:
    def __init__(
        self,
        store: GateStore,
        remember: Callable[[Mapping[str, Any]], None],
        settings: RolloutSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notify: Notify | None = None,
        safety: SafetyMetrics | None = None,
        callers: Callable[[GateKey], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.store = store
        self.remember = remember
        self.settings = settings
        self.clock = clock
        self.notify = notify
        self.safety = safety
        # What the verdict API answered whom about a gate (judge-only gates show it).
        self.callers: Callable[[GateKey], list[dict[str, Any]]] = callers or (lambda _: [])

    def backend(self, record: GateRecord) -> TrafficBackend:
        return backend_for(record.provider, record.key.namespace, record.traffic_settings)

    async def fresh(self, record: GateRecord) -> dict[str, Any]:
        body = await self.store.get_gate(record.key.namespace, record.key.name)
        self.remember(body)
        return body

    async def write(
        self,
        record: GateRecord,
        build: Callable[[Mapping[str, Any]], dict[str, Any]],
        *,
        body: Mapping[str, Any] | None = None,
        attempts: int = 3,
    ) -> dict[str, Any]:
        """Patch the status with `build(current status)`, re-reading on a conflict."""
        for attempt in range(attempts):
            if body is None or attempt:
                body = await self.fresh(record)
            metadata = body.get("metadata") or {}
            patch = build(body.get("status") or {})
            try:
                written = await self.store.patch_gate_status(
                    record.key.namespace,
                    record.key.name,
                    patch,
                    resource_version=str(metadata.get("resourceVersion", "")),
                )
            except Conflict:
                continue
            self.remember(written)
            return written
        raise Conflict(f"status of CanaryGate {record.key}: still conflicting after {attempts}")

    async def event(
        self, body: Mapping[str, Any], reason: EventReason, message: str, *, warning: bool = False
    ) -> None:
        """The one place a transition is announced: an Event on the gate, and the same
        transition to the notifier, if any (which queues it and returns at once), and a log
        line with the gate, its revision and the Event's reason as fields."""
        ref = GateRef.from_body(body)
        revision = (body.get("status") or {}).get("revision")
        log.log(
            logging.WARNING if warning else logging.INFO,
            "%s/%s %s: %s",
            ref.namespace,
            ref.name,
            reason,
            message,
            extra={**gate_fields(f"{ref.namespace}/{ref.name}", revision), "event": str(reason)},
        )
        if self.notify is not None:
            self.notify(Transition(body, reason, message, warning))
        await self.store.emit_event(
            ref,
            type="Warning" if warning else "Normal",
            reason=str(reason),
            message=message,
        )

    def common(
        self,
        record: GateRecord,
        status: Mapping[str, Any],
        updates: list[ConditionUpdate],
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "observedGeneration": record.generation,
            "lastEvaluationTime": rfc3339(now),
            "conditions": merge_conditions(
                status.get("conditions"), updates, now=now, generation=record.generation
            ),
        }

    async def traffic_failed(
        self, record: GateRecord, body: Mapping[str, Any], error: Exception, now: datetime
    ) -> Next:
        update = conditions.from_traffic_error(error)
        known = record.conditions.get(update.type)
        if known != (update.status, update.reason):

            def build(status: Mapping[str, Any]) -> dict[str, Any]:
                return self.common(record, status, [update], now)

            written = await self.write(record, build, body=body)
            await self.event(written, EventReason.TRAFFIC_ERROR, str(error), warning=True)
        return Next(failed=True)

    def stamp(
        self, record: GateRecord, action: Action, weight: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "gate": record.uid,
            "revision": record.revision,
            "action": str(action),
            "weight": weight,
            "at": rfc3339(now),
        }

    def intent_ttl(self, record: GateRecord) -> timedelta:
        seconds = max(
            self.settings.intent_ttl_minimum_seconds,
            self.settings.intent_ttl_intervals * record.interval_seconds,
        )
        return timedelta(seconds=seconds)

    def drift_check_due(self, record: GateRecord) -> bool:
        return time.monotonic() - record.last_drift_check >= self.settings.drift_check_seconds


def merged_conditions(
    known: Mapping[str, tuple[str, str]], updates: list[ConditionUpdate]
) -> dict[str, tuple[str, str]]:
    """The (status, reason) of each condition once `updates` apply, by type."""
    merged = dict(known)
    for update in updates:
        merged[update.type] = (update.status, update.reason)
    return dict(sorted(merged.items()))
