"""One gate's rollout, one step at a time: start, move traffic, hold, finish, clean up.

`Rollouts.process(record, decision)` is called by the scheduler for a due gate, with the
decision of this tick when the gate was evaluated. It performs at most one transition and
says when the gate wants to be seen again. The order of writes is what makes a restart exact:

- start (a first sighting or a new revision): snapshot the original routing, set the canary
  to 0 %, then write the status (revision, phase Pending, snapshot). A crash before the
  status write repeats the start, which changes nothing the second time.
- advance / promote: record the intent in status, move the traffic, record the result. After
  a crash the intent is completed (or, if the route already moved, just recorded), so a step
  is neither repeated nor skipped; an intent older than its time to live is decided again.
- rollback: traffic to 100 % stable first, before anything else is written; then the status.
- hold: the status is written only when something significant changed, or on a heartbeat.
- delete: the original routing is restored, then the finalizer removed.

Failures stay with their gate: a missing route gives a condition, an Event and a backoff,
never an exception out of `process`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from canarygate.api.status import (
    REASONS_LIMIT,
    ConditionUpdate,
    appended,
    counters,
    evidence,
    merge_conditions,
    rfc3339,
    significant,
)
from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.errors import ActuatorError, CanarygateError, SpecError
from canarygate.core.vocabulary import Action, Mode, Phase
from canarygate.kube import Conflict, EventType, GateRef, KubeError
from canarygate.operator import conditions
from canarygate.operator.actuating import ObjectStore, last_change, read, restore, set_weight
from canarygate.operator.records import FINALIZER, GateRecord, Intent, intent_from_status
from canarygate.operator.vocabulary import ConditionReason, ConditionType, EventReason
from canarygate.traffic import CheckOutcome, TrafficBackend, WeightCheck, backend_for

log = logging.getLogger("canarygate.operator")


# The reason code of a step that waits for the routing to carry the current weight.
WAITING_FOR_TRAFFIC = "WaitingForTraffic"


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


AT_INTERVAL = Next()
SOON = Next(after=1.0)


class Rollouts:
    def __init__(
        self,
        store: GateStore,
        remember: Callable[[Mapping[str, Any]], None],
        settings: RolloutSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.remember = remember
        self.settings = settings or RolloutSettings()
        self.clock = clock

    async def process(self, record: GateRecord, decision: Decision | None) -> Next:
        """One transition of one gate; never raises for a problem of that gate."""
        try:
            return await self._process(record, decision)
        except (KubeError, ActuatorError) as error:
            log.warning("gate %s: %s", record.key, error)
            return Next(failed=True)
        except CanarygateError as error:  # a bug in a path, not in the gate: keep going
            log.error("gate %s: unexpected %s: %s", record.key, type(error).__name__, error)
            return Next(failed=True)

    async def _process(self, record: GateRecord, decision: Decision | None) -> Next:
        if record.deleting:
            return await self._finalize(record)
        if record.problem is not None:
            return await self._mark_invalid(record)
        if FINALIZER not in record.finalizers:
            await self._add_finalizer(record)
            return Next(after=0.0)
        if record.needs_start:
            return await self._start(record)
        if record.intent is not None:
            return await self._complete(record, record.intent)
        if record.terminal:
            return await self._keep_terminal(record)
        drift = await self._drift_check(record, decision)
        if drift is not None:
            return drift
        if decision is None:
            return AT_INTERVAL
        if decision.action is Action.ROLLBACK:
            return await self._roll_back(record, decision)
        if decision.action in (Action.ADVANCE, Action.PROMOTE):
            return await self._step(record, decision)
        return await self._hold(record, decision)

    # -- building blocks ------------------------------------------------------------------

    def _backend(self, record: GateRecord) -> TrafficBackend:
        return backend_for(record.provider, record.key.namespace, record.traffic_settings)

    async def _fresh(self, record: GateRecord) -> dict[str, Any]:
        body = await self.store.get_gate(record.key.namespace, record.key.name)
        self.remember(body)
        return body

    async def _write(
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
                body = await self._fresh(record)
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

    async def _event(
        self, body: Mapping[str, Any], reason: EventReason, message: str, *, warning: bool = False
    ) -> None:
        await self.store.emit_event(
            GateRef.from_body(body),
            type="Warning" if warning else "Normal",
            reason=str(reason),
            message=message,
        )

    def _common(
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

    # -- paths ------------------------------------------------------------------------------

    async def _mark_invalid(self, record: GateRecord) -> Next:
        if record.state.phase is Phase.INVALID and record.observed_generation == record.generation:
            return AT_INTERVAL
        now = self.clock()
        problem = record.problem or "invalid spec"

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return {
                **self._common(record, status, [conditions.spec_invalid(problem)], now),
                "phase": str(Phase.INVALID),
                "message": f"invalid spec: {problem}",
            }

        body = await self._write(record, build)
        await self._event(body, EventReason.INVALID_SPEC, problem, warning=True)
        return AT_INTERVAL

    async def _add_finalizer(self, record: GateRecord) -> None:
        body = await self.store.set_gate_finalizers(
            record.key.namespace,
            record.key.name,
            [*record.finalizers, FINALIZER],
            resource_version=record.resource_version,
        )
        self.remember(body)

    async def _start(self, record: GateRecord) -> Next:
        """A new rollout: remember the original routing, put the canary at 0 %, record it."""
        body = await self._fresh(record)
        status = body.get("status") or {}
        now = self.clock()
        backend = self._backend(record)
        try:
            objects = await read(self.store, backend)
            original = (status.get("traffic") or {}).get("original") or backend.snapshot(objects)
            live = backend.read_weight(objects)
            moved = await set_weight(self.store, backend, 0)
        except (ActuatorError, KubeError, SpecError) as error:
            return await self._traffic_failed(record, body, error, now)
        revision = record.revision

        def build(current: Mapping[str, Any]) -> dict[str, Any]:
            entry = {
                "time": rfc3339(now),
                "action": str(Action.HOLD),
                "weightFrom": round(live),
                "weightTo": 0,
                "reason": f"rollout of revision {revision or '(none)'} starts at 0%",
            }
            return {
                **self._common(
                    record,
                    current,
                    [conditions.spec_valid(), conditions.from_check(moved.check)],
                    now,
                ),
                "phase": str(Phase.PENDING),
                "revision": revision,
                "weight": 0,
                "consecutivePasses": 0,
                "action": str(Action.HOLD),
                "intent": None,
                "guardrails": [],
                "traffic": {
                    "provider": record.provider,
                    "original": original,
                    "check": str(moved.check.outcome),
                    "liveWeight": moved.live_weight,
                },
                "message": entry["reason"],
                "history": appended(current.get("history"), entry),
            }

        written = await self._write(record, build, body=body)
        await self._event(
            written,
            EventReason.ROLLOUT_STARTED,
            f"revision {revision or '(none)'}: canary at 0%, original routing saved",
        )
        return Next(after=0.0)

    async def _step(self, record: GateRecord, decision: Decision) -> Next:
        """Advance or promote: the intent first, then the traffic, then the result. Not before
        the routing is known to carry the current weight."""
        backend = self._backend(record)
        try:
            current = backend.check_weight(await read(self.store, backend), record.state.weight)
        except (ActuatorError, KubeError, SpecError) as error:
            body = await self._fresh(record)
            return await self._traffic_failed(record, body, error, self.clock())
        if current.outcome is CheckOutcome.CANNOT_TELL:
            return await self._hold(record, decision, waiting=current)
        now = self.clock()
        intent = Intent(
            action=str(decision.action),
            weight_from=record.state.weight,
            weight_to=decision.weight_next,
            revision=record.revision,
            decided_at=now,
        )

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return {
                **self._common(record, status, conditions.from_decision(decision), now),
                **evidence(decision),
                "phase": str(Phase.PROGRESSING),
                "consecutivePasses": decision.state.consecutive_passes,
                "intent": intent.to_status(),
            }

        body = await self._fresh(record)
        if intent_from_status((body.get("status") or {}).get("intent")) is not None:
            return SOON  # another writer got here first; its intent is completed next
        written = await self._write(record, build, body=body, attempts=1)
        return await self._complete(record, intent, written)

    async def _complete(
        self, record: GateRecord, intent: Intent, body: Mapping[str, Any] | None = None
    ) -> Next:
        """Finish a recorded move: make it, or just record it if the traffic already moved.
        `body` is the gate as just written, when the caller has it (saves a read)."""
        now = self.clock()
        backend = self._backend(record)
        if body is None:
            body = await self._fresh(record)
        try:
            objects = await read(self.store, backend)
            # The backend judges where the objects are: set to the new weight already (made,
            # or being made: replica ratios cannot tell while pods start), still at the old one,
            # or elsewhere (someone else moved them).
            at_target = backend.check_weight(objects, intent.weight_to)
            at_origin = backend.check_weight(objects, intent.weight_from)
        except (ActuatorError, KubeError, SpecError) as error:
            return await self._traffic_failed(record, body, error, now)
        moved_already = at_target.outcome is not CheckOutcome.MISMATCH
        stale = now - intent.decided_at > self._intent_ttl(record)
        if intent.revision != record.revision or (stale and not moved_already):
            return await self._abandon(record, body, intent, at_target, now)
        if not moved_already:
            if at_origin.outcome is CheckOutcome.MISMATCH:
                return await self._abandon(record, body, intent, at_target, now, mismatch=True)
            try:
                moved = await set_weight(
                    self.store,
                    backend,
                    intent.weight_to,
                    stamp=self._stamp(record, Action(intent.action), intent.weight_to, now),
                    objects=objects,
                )
            except (ActuatorError, KubeError, SpecError) as error:
                return await self._traffic_failed(record, body, error, now)
            check = moved.check
        else:
            check = at_target
        promoted = intent.action == str(Action.PROMOTE)

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            entry = {
                "time": rfc3339(now),
                "action": intent.action,
                "health": status.get("health"),
                "risk": status.get("risk"),
                "mode": status.get("mode"),
                "weightFrom": intent.weight_from,
                "weightTo": intent.weight_to,
                "reason": status.get("message") or intent.action,
            }
            return {
                **self._common(record, status, [conditions.from_check(check)], now),
                "phase": str(Phase.PROMOTED if promoted else Phase.PROGRESSING),
                "weight": intent.weight_to,
                "consecutivePasses": 0,
                "intent": None,
                "traffic": {
                    **(status.get("traffic") or {}),
                    "check": str(check.outcome),
                    "liveWeight": intent.weight_to,
                },
                "history": appended(
                    status.get("history"), {k: v for k, v in entry.items() if v is not None}
                ),
            }

        written = await self._write(record, build, body=body)
        reason = EventReason.PROMOTED if promoted else EventReason.ADVANCED
        await self._event(
            written,
            reason,
            f"canary {intent.weight_from}% -> {intent.weight_to}% ({check.outcome}): "
            f"{(written.get('status') or {}).get('message', '')}",
        )
        return AT_INTERVAL

    async def _abandon(
        self,
        record: GateRecord,
        body: Mapping[str, Any],
        intent: Intent,
        found: WeightCheck,
        now: datetime,
        *,
        mismatch: bool = False,
    ) -> Next:
        """An intent that must not be applied: too old, another revision, or the traffic was
        moved by someone else meanwhile. It is dropped and the gate decides again."""
        if mismatch:
            why = (
                f"{found.reason}: neither {intent.weight_from}% nor {intent.weight_to}%; routing "
                "was changed outside canarygate; holding"
            )
        else:
            why = f"decided at {rfc3339(intent.decided_at)}, not applied in time; deciding again"
        updates = [conditions.weight_mismatch(why)] if mismatch else []

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return {**self._common(record, status, updates, now), "intent": None, "message": why}

        written = await self._write(record, build, body=body)
        await self._event(
            written,
            EventReason.WEIGHT_MISMATCH if mismatch else EventReason.INTENT_ABANDONED,
            f"{intent.action} {intent.weight_from}% -> {intent.weight_to}% abandoned: {why}",
            warning=mismatch,
        )
        return Next(after=0.0) if not mismatch else AT_INTERVAL

    async def _roll_back(self, record: GateRecord, decision: Decision) -> Next:
        """All traffic to stable before anything else is written; then the status."""
        now = self.clock()
        backend = self._backend(record)
        try:
            moved = await set_weight(
                self.store, backend, 0, stamp=self._stamp(record, Action.ROLLBACK, 0, now)
            )
        except (ActuatorError, KubeError, SpecError) as error:
            log.error("gate %s: rollback could not move traffic: %s", record.key, error)
            body = await self._fresh(record)
            await self._traffic_failed(record, body, error, now)
            return Next(after=1.0, failed=True)
        weight_from = record.state.weight

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            entry = {
                "time": rfc3339(now),
                "action": str(Action.ROLLBACK),
                "health": str(decision.health),
                "risk": str(decision.risk.risk),
                "mode": str(decision.mode),
                "weightFrom": weight_from,
                "weightTo": 0,
                "reason": decision.reasons[0].message if decision.reasons else "rollback",
            }
            updates = [*conditions.from_decision(decision), conditions.from_check(moved.check)]
            return {
                **self._common(record, status, updates, now),
                **evidence(decision),
                **counters(decision),
                "phase": str(Phase.ROLLED_BACK),
                "weight": 0,
                "intent": None,
                "traffic": {
                    **(status.get("traffic") or {}),
                    "check": str(moved.check.outcome),
                    "liveWeight": moved.live_weight,
                },
                "history": appended(status.get("history"), entry),
            }

        written = await self._write(record, build)
        await self._event(
            written,
            EventReason.ROLLED_BACK,
            f"canary {weight_from}% -> 0%: {decision.reasons[0].message}",
            warning=True,
        )
        return AT_INTERVAL

    async def _hold(
        self, record: GateRecord, decision: Decision, *, waiting: WeightCheck | None = None
    ) -> Next:
        """Hold: write the status only when something significant changed (or the heartbeat
        is due). With `waiting`, the decision would move traffic but the routing does not
        carry the current weight yet, so the step waits (as Argo Rollouts waits for
        VerifyWeight): a canary whose pods never become ready is never promoted."""
        now = self.clock()
        updates = conditions.from_decision(decision)
        fields = {
            **evidence(decision),
            **counters(decision),
            "weight": record.state.weight,
            "revision": record.revision,
        }
        if waiting is not None:
            why = (
                f"hold: waiting for the routing to carry {record.state.weight}% before the "
                f"next step ({waiting.reason})"
            )
            updates.append(conditions.from_check(waiting))
            fields.update(
                action=str(Action.HOLD),
                message=why,
                reasons=[why, *fields["reasons"]][:REASONS_LIMIT],
                reasonCodes=[WAITING_FOR_TRAFFIC, *fields["reasonCodes"]][:REASONS_LIMIT],
                consecutivePasses=record.state.consecutive_passes,
                phase=str(record.state.phase),
            )
        candidate = {
            **fields,
            "intent": None,
            "conditions": [
                {"type": t, "status": s, "reason": r}
                for t, (s, r) in _merged(record.conditions, updates).items()
            ],
        }
        heartbeat_due = record.last_evaluation is None or now - record.last_evaluation > timedelta(
            seconds=self.settings.heartbeat_seconds
        )
        if significant(candidate) == record.digest and not heartbeat_due:
            return AT_INTERVAL

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return {**self._common(record, status, updates, now), **fields}

        body = await self._fresh(record)
        before = body.get("status") or {}
        written = await self._write(record, build, body=body)
        if waiting is None:
            await self._announce_hold(written, before, decision)
        elif record.conditions.get(ConditionType.TRAFFIC_READY) != (
            "Unknown",
            ConditionReason.CANNOT_TELL,
        ):
            await self._event(written, EventReason.WAITING_FOR_TRAFFIC, str(fields["message"]))
        return AT_INTERVAL

    async def _announce_hold(
        self, body: Mapping[str, Any], before: Mapping[str, Any], decision: Decision
    ) -> None:
        """An Event when holding starts or changes character, not on every tick: a refused
        query or an unreachable Prometheus that appears, a freeze that starts or ends, or a
        hold whose deciding reason changed."""
        codes_before = list(before.get("reasonCodes") or [])
        lead_before = codes_before[0] if codes_before else None
        lead = str(decision.reasons[0].code) if decision.reasons else None
        mode_before = before.get("mode")
        message = decision.reasons[0].message if decision.reasons else "hold"
        appeared = {
            r.code: r.message for r in reversed(decision.reasons) if r.code not in codes_before
        }
        if ReasonCode.QUERY_ERROR in appeared:
            await self._event(
                body, EventReason.QUERY_ERROR, appeared[ReasonCode.QUERY_ERROR], warning=True
            )
        elif ReasonCode.PROMETHEUS_UNAVAILABLE in appeared:
            await self._event(
                body,
                EventReason.PROMETHEUS_UNAVAILABLE,
                f"holding: {appeared[ReasonCode.PROMETHEUS_UNAVAILABLE]}",
                warning=True,
            )
        elif decision.mode is Mode.FREEZE and mode_before != str(Mode.FREEZE):
            await self._event(body, EventReason.FROZEN, message, warning=True)
        elif mode_before == str(Mode.FREEZE) and decision.mode is not Mode.FREEZE:
            await self._event(body, EventReason.UNFROZEN, f"health {decision.health}: {message}")
        elif lead != lead_before or before.get("action") != str(Action.HOLD):
            await self._event(body, EventReason.HOLD_STARTED, message)

    async def _keep_terminal(self, record: GateRecord) -> Next:
        """A rolled-back gate keeps 100 % on stable until a new revision (checked now and then);
        a promoted one is left alone: the pipeline takes over from there."""
        if record.state.phase is not Phase.ROLLED_BACK or not self._drift_check_due(record):
            return AT_INTERVAL
        record.last_drift_check = time.monotonic()
        backend = self._backend(record)
        moved = await set_weight(self.store, backend, 0)
        if moved.written:
            body = await self._fresh(record)
            await self._event(
                body,
                EventReason.WEIGHT_MISMATCH,
                "the canary of a rolled-back gate had traffic again; set back to 0%",
                warning=True,
            )
        return AT_INTERVAL

    async def _drift_check(self, record: GateRecord, decision: Decision | None) -> Next | None:
        """Now and then, compare the live weight with the status; a difference nobody
        recorded means someone else changed the routing: hold and say so once, never fight.
        While the mismatch stands (its condition is in status), look at every visit, quietly,
        and carry on as soon as the weights are back. A rollback is never held back."""
        standing = record.conditions.get(ConditionType.TRAFFIC_READY) == (
            "False",
            ConditionReason.WEIGHT_MISMATCH,
        )
        if not standing and not self._drift_check_due(record):
            return None
        record.last_drift_check = time.monotonic()
        backend = self._backend(record)
        try:
            objects = await read(self.store, backend)
            check = backend.check_weight(objects, record.state.weight)
        except (ActuatorError, KubeError, SpecError) as error:
            body = await self._fresh(record)
            return await self._traffic_failed(record, body, error, self.clock())
        # The backend judges: replica ratios, say, cannot tell while pods start, which is
        # no one else's change. Only a mismatch it is sure of counts.
        if check.outcome is not CheckOutcome.MISMATCH:
            if standing:
                await self._mismatch_resolved(record, check)
            return None
        stamp = last_change(objects)
        if (
            backend.check_weight(objects, 0).outcome is not CheckOutcome.MISMATCH
            and stamp is not None
            and stamp.get("action") == str(Action.ROLLBACK)
            and stamp.get("gate") == record.uid
            and stamp.get("revision") == record.revision
        ):
            return await self._finish_rollback(record, stamp)
        if decision is not None and decision.action is Action.ROLLBACK:
            return None  # moving everyone to stable is right whoever changed the weights
        if standing:
            return AT_INTERVAL
        why = (
            f"{check.reason}, but canarygate set {record.state.weight}%: routing was changed "
            "outside canarygate (see the GitOps settings in the README); holding"
        )
        now = self.clock()

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return {
                **self._common(record, status, [conditions.weight_mismatch(why)], now),
                "message": why,
            }

        written = await self._write(record, build)
        await self._event(written, EventReason.WEIGHT_MISMATCH, why, warning=True)
        return AT_INTERVAL

    async def _mismatch_resolved(self, record: GateRecord, check: WeightCheck) -> None:
        now = self.clock()

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            return self._common(record, status, [conditions.from_check(check)], now)

        await self._write(record, build)

    async def _finish_rollback(self, record: GateRecord, stamp: Mapping[str, Any]) -> Next:
        """The traffic went back to stable but the operator died before recording it: the
        stamp on the routing objects says it was this gate's rollback; record it now."""
        now = self.clock()
        weight_from = record.state.weight
        why = f"rollback at {stamp.get('at')} completed after a restart: traffic was on stable"

        def build(status: Mapping[str, Any]) -> dict[str, Any]:
            entry = {
                "time": rfc3339(now),
                "action": str(Action.ROLLBACK),
                "weightFrom": weight_from,
                "weightTo": 0,
                "reason": why,
            }
            return {
                **self._common(record, status, [], now),
                "phase": str(Phase.ROLLED_BACK),
                "action": str(Action.ROLLBACK),
                "weight": 0,
                "consecutivePasses": 0,
                "intent": None,
                "message": why,
                "history": appended(status.get("history"), entry),
            }

        written = await self._write(record, build)
        await self._event(written, EventReason.ROLLED_BACK, why, warning=True)
        return AT_INTERVAL

    def _drift_check_due(self, record: GateRecord) -> bool:
        return time.monotonic() - record.last_drift_check >= self.settings.drift_check_seconds

    async def _traffic_failed(
        self, record: GateRecord, body: Mapping[str, Any], error: Exception, now: datetime
    ) -> Next:
        update = conditions.from_traffic_error(error)
        known = record.conditions.get(update.type)
        if known != (update.status, update.reason):

            def build(status: Mapping[str, Any]) -> dict[str, Any]:
                return self._common(record, status, [update], now)

            written = await self._write(record, build, body=body)
            await self._event(written, EventReason.TRAFFIC_ERROR, str(error), warning=True)
        return Next(failed=True)

    async def _finalize(self, record: GateRecord) -> Next:
        if FINALIZER not in record.finalizers:
            return Next(forget=True)
        body = await self._fresh(record)
        original = ((body.get("status") or {}).get("traffic") or {}).get("original")
        if original and record.provider:
            try:
                written = await restore(self.store, self._backend(record), original)
            except (ActuatorError, SpecError) as error:
                log.warning("gate %s: original routing not restored: %s", record.key, error)
                written = -1
            if written >= 0:
                await self._event(
                    body,
                    EventReason.TRAFFIC_RESTORED,
                    f"original routing restored ({written} objects)",
                )
        metadata = body.get("metadata") or {}
        remaining = [f for f in metadata.get("finalizers") or [] if f != FINALIZER]
        self.remember(
            await self.store.set_gate_finalizers(
                record.key.namespace,
                record.key.name,
                remaining,
                resource_version=str(metadata.get("resourceVersion", "")),
            )
        )
        return Next(forget=True)

    def _stamp(
        self, record: GateRecord, action: Action, weight: int, now: datetime
    ) -> dict[str, Any]:
        return {
            "gate": record.uid,
            "revision": record.revision,
            "action": str(action),
            "weight": weight,
            "at": rfc3339(now),
        }

    def _intent_ttl(self, record: GateRecord) -> timedelta:
        seconds = max(
            self.settings.intent_ttl_minimum_seconds,
            self.settings.intent_ttl_intervals * record.interval_seconds,
        )
        return timedelta(seconds=seconds)


def _merged(
    known: Mapping[str, tuple[str, str]], updates: list[ConditionUpdate]
) -> dict[str, tuple[str, str]]:
    merged = dict(known)
    for update in updates:
        merged[update.type] = (update.status, update.reason)
    return dict(sorted(merged.items()))
