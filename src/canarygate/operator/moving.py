"""Moving traffic, in the order that makes a restart exact.

- advance / promote: the intent in status first, then the routing, then the result; a pending
  intent is completed (or only recorded, when the routing already moved) and a stale one is
  decided again. A step waits until the routing carries the current weight.
- rollback: 100 % to stable before anything else is written, stamped on the routing objects
  so that a restart finding the stamp records the rollback.
- observe only (`spec.enforcement: observe`): every move is decided and recorded as it would
  be (status, history, Events, notifications), and no routing object is read for a check or
  written; the status says `enforcement: observe` and each entry `observe only`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from canarygate.api.controls import control_entry, with_entries
from canarygate.api.status import (
    appended,
    counters,
    evidence,
    rfc3339,
)
from canarygate.core.approval import approval_needed
from canarygate.core.controls import Control, ControlKind, ControlOutcome
from canarygate.core.decisions import Decision
from canarygate.core.errors import ActuatorError, SpecError
from canarygate.core.vocabulary import Action, Phase
from canarygate.kube import KubeError
from canarygate.operator import conditions
from canarygate.operator.actuating import read, set_weight
from canarygate.operator.context import AT_INTERVAL, SOON, GateContext, Next
from canarygate.operator.holding import hold
from canarygate.operator.logs import gate_fields
from canarygate.operator.records import GateRecord, Intent, intent_from_status
from canarygate.operator.vocabulary import EventReason
from canarygate.traffic import CheckOutcome, WeightCheck

# The words every observe-only record carries.
OBSERVED = "observe only, no traffic moved"

log = logging.getLogger("canarygate.operator")


async def step(ctx: GateContext, record: GateRecord, decision: Decision) -> Next:
    """Advance or promote: the intent first, then the traffic, then the result. Not before
    the routing is known to carry the current weight, nor before a person approved it when
    the gate's approval policy says this move needs it."""
    if record.spec is not None:
        waits = approval_needed(
            record.spec.canary.approval,
            decision.action,
            decision.risk.risk,
            record.revision,
            decision.weight_next,
            record.approvals,
        )
        if waits is not None:
            return await hold(ctx, record, decision, approval=waits)
    if record.observing:
        return await record_observed(ctx, record, decision)
    backend = ctx.backend(record)
    try:
        current = backend.check_weight(await read(ctx.store, backend), record.state.weight)
    except (ActuatorError, KubeError, SpecError) as error:
        body = await ctx.fresh(record)
        return await ctx.traffic_failed(record, body, error, ctx.clock())
    if current.outcome is CheckOutcome.CANNOT_TELL:
        return await hold(ctx, record, decision, waiting=current)
    now = ctx.clock()
    intent = Intent(
        action=str(decision.action),
        weight_from=record.state.weight,
        weight_to=decision.weight_next,
        revision=record.revision,
        decided_at=now,
    )

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **ctx.common(record, status, conditions.from_decision(decision), now),
            **evidence(decision),
            "phase": str(Phase.PROGRESSING),
            "consecutivePasses": decision.state.consecutive_passes,
            "intent": intent.to_status(),
            "approval": None,  # approved (or no longer needed): the wait is over
        }

    body = await ctx.fresh(record)
    if intent_from_status((body.get("status") or {}).get("intent")) is not None:
        return SOON  # another writer got here first; its intent is completed next
    written = await ctx.write(record, build, body=body, attempts=1)
    return await complete(ctx, record, intent, written)


async def complete(
    ctx: GateContext, record: GateRecord, intent: Intent, body: Mapping[str, Any] | None = None
) -> Next:
    """Finish a recorded move: make it, or just record it if the traffic already moved.
    `body` is the gate as just written, when the caller has it (saves a read)."""
    now = ctx.clock()
    if body is None:
        body = await ctx.fresh(record)
    if record.observing:  # a forced promotion of an observing gate: recorded, not made
        return await _completed(ctx, record, intent, body, None, now)
    backend = ctx.backend(record)
    try:
        objects = await read(ctx.store, backend)
        # The backend judges where the objects are: set to the new weight already (made,
        # or being made: replica ratios cannot tell while pods start), still at the old one,
        # or elsewhere (someone else moved them).
        at_target = backend.check_weight(objects, intent.weight_to)
        at_origin = backend.check_weight(objects, intent.weight_from)
    except (ActuatorError, KubeError, SpecError) as error:
        return await ctx.traffic_failed(record, body, error, now)
    moved_already = at_target.outcome is not CheckOutcome.MISMATCH
    stale = now - intent.decided_at > ctx.intent_ttl(record)
    if intent.revision != record.revision or (stale and not moved_already):
        return await abandon(ctx, record, body, intent, at_target, now)
    if not moved_already:
        if at_origin.outcome is CheckOutcome.MISMATCH:
            return await abandon(ctx, record, body, intent, at_target, now, mismatch=True)
        try:
            moved = await set_weight(
                ctx.store,
                backend,
                intent.weight_to,
                stamp=ctx.stamp(record, Action(intent.action), intent.weight_to, now),
                objects=objects,
            )
        except (ActuatorError, KubeError, SpecError) as error:
            return await ctx.traffic_failed(record, body, error, now)
        check = moved.check
    else:
        check = at_target
    return await _completed(ctx, record, intent, body, check, now)


async def _completed(
    ctx: GateContext,
    record: GateRecord,
    intent: Intent,
    body: Mapping[str, Any],
    check: WeightCheck | None,
    now: datetime,
) -> Next:
    """Record a move made (`check`: how the routing carries it) or, observing, only decided
    (`check` None). A forced promotion's control is acknowledged in the same write."""
    promoted = intent.action == str(Action.PROMOTE)
    forced = _forced(record) if intent.control == str(ControlKind.PROMOTE) else None

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "time": rfc3339(now),
            "action": intent.action,
            "health": status.get("health"),
            "risk": status.get("risk"),
            "mode": status.get("mode"),
            "weightFrom": intent.weight_from,
            "weightTo": intent.weight_to,
            "reason": status.get("message") or intent.action,
        }
        found: dict[str, Any] = {
            **ctx.common(
                record, status, [] if check is None else [conditions.from_check(check)], now
            ),
            "phase": str(Phase.PROMOTED if promoted else Phase.PROGRESSING),
            "weight": intent.weight_to,
            "consecutivePasses": 0,
            "intent": None,
            "approval": None,
        }
        if check is not None:
            found["traffic"] = {
                **(status.get("traffic") or {}),
                "check": str(check.outcome),
                "liveWeight": intent.weight_to,
            }
        else:
            entry["enforcement"] = "observe"
        if forced is not None:
            entry |= {"control": str(ControlKind.PROMOTE), "by": forced.control.by}
            found["controls"] = with_entries(status.get("controls"), [control_entry(forced, now)])
        found["history"] = appended(
            status.get("history"), {k: v for k, v in entry.items() if v is not None}
        )
        return found

    written = await ctx.write(record, build, body=body)
    reason = EventReason.PROMOTED if promoted else EventReason.ADVANCED
    if forced is not None:
        reason = EventReason.FORCE_PROMOTED
        if ctx.safety is not None:
            ctx.safety.force_promoted(record)
    how = OBSERVED if check is None else str(check.outcome)
    await ctx.event(
        written,
        reason,
        f"canary {intent.weight_from}% -> {intent.weight_to}% ({how}): "
        f"{(written.get('status') or {}).get('message', '')}",
        warning=forced is not None,
    )
    return AT_INTERVAL


def _forced(record: GateRecord) -> ControlOutcome:
    """The forced promotion being completed, as its annotation says it now (who, why), or,
    if it went meanwhile, as the intent alone can tell."""
    outcome = next(
        (
            o
            for o in record.control_outcomes()
            if o.applies and o.control.kind is ControlKind.PROMOTE
        ),
        None,
    )
    if outcome is not None:
        return outcome
    control = Control(ControlKind.PROMOTE, record.revision or "")
    return ControlOutcome(control, True, f"{control.said()} of revision {record.revision} done")


async def record_observed(ctx: GateContext, record: GateRecord, decision: Decision) -> Next:
    """Observing: the move is recorded as made, and not made. No intent is needed: nothing is
    half done if the operator stops here, the next evaluation decides again."""
    now = ctx.clock()
    intent = Intent(
        action=str(decision.action),
        weight_from=record.state.weight,
        weight_to=decision.weight_next,
        revision=record.revision,
        decided_at=now,
    )
    body = await ctx.fresh(record)

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **ctx.common(record, status, conditions.from_decision(decision), now),
            **evidence(decision),
        }

    written = await ctx.write(record, build, body=body)
    return await _completed(ctx, record, intent, written, None, now)


async def abandon(
    ctx: GateContext,
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
        return {**ctx.common(record, status, updates, now), "intent": None, "message": why}

    written = await ctx.write(record, build, body=body)
    await ctx.event(
        written,
        EventReason.WEIGHT_MISMATCH if mismatch else EventReason.INTENT_ABANDONED,
        f"{intent.action} {intent.weight_from}% -> {intent.weight_to}% abandoned: {why}",
        warning=mismatch,
    )
    return Next(after=0.0) if not mismatch else AT_INTERVAL


async def roll_back(ctx: GateContext, record: GateRecord, decision: Decision) -> Next:
    """All traffic to stable before anything else is written; then the status. Observing,
    only the status: the routing is not touched."""
    now = ctx.clock()
    backend = ctx.backend(record)
    try:
        moved = (
            None
            if record.observing
            else await set_weight(
                ctx.store, backend, 0, stamp=ctx.stamp(record, Action.ROLLBACK, 0, now)
            )
        )
    except (ActuatorError, KubeError, SpecError) as error:
        log.error(
            "gate %s: rollback could not move traffic: %s",
            record.key,
            error,
            extra=gate_fields(record.key, record.revision),
        )
        body = await ctx.fresh(record)
        await ctx.traffic_failed(record, body, error, now)
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
        updates = conditions.from_decision(decision)
        traffic = dict(status.get("traffic") or {})
        if moved is not None:
            updates.append(conditions.from_check(moved.check))
            traffic |= {"check": str(moved.check.outcome), "liveWeight": moved.live_weight}
        else:
            entry["enforcement"] = "observe"
        return {
            **ctx.common(record, status, updates, now),
            **evidence(decision),
            **counters(decision),
            "phase": str(Phase.ROLLED_BACK),
            "weight": 0,
            "intent": None,
            "approval": None,
            "traffic": traffic,
            "history": appended(status.get("history"), entry),
        }

    written = await ctx.write(record, build)
    if ctx.safety is not None and moved is not None:
        ctx.safety.rolled_back(record, "decision")
    observed = f" ({OBSERVED})" if moved is None else ""
    await ctx.event(
        written,
        EventReason.ROLLED_BACK,
        f"canary {weight_from}% -> 0%{observed}: {decision.reasons[0].message}",
        warning=True,
    )
    return AT_INTERVAL


async def finish_rollback(ctx: GateContext, record: GateRecord, stamp: Mapping[str, Any]) -> Next:
    """The traffic went back to stable but the operator died before recording it: the
    stamp on the routing objects says it was this gate's rollback; record it now."""
    now = ctx.clock()
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
            **ctx.common(record, status, [], now),
            "phase": str(Phase.ROLLED_BACK),
            "action": str(Action.ROLLBACK),
            "weight": 0,
            "consecutivePasses": 0,
            "intent": None,
            "approval": None,
            "message": why,
            "history": appended(status.get("history"), entry),
        }

    written = await ctx.write(record, build)
    await ctx.event(written, EventReason.ROLLED_BACK, why, warning=True)
    return AT_INTERVAL
