"""Manual controls, carried out and acknowledged: abort, a forced promotion, pause and resume,
a freeze's clearance, and any of them ignored (for another revision, an episode not in
progress, a value that cannot be read).

Every control is acknowledged once in `status.controls` (the last of each type: who, the
revision it names, when it was given and acknowledged, whether it applied and why), in the
history and in an Event. Which control applies is the core's to say (core.controls); the
pause itself is carried out by `decide`, which holds a paused gate.

- abort: all traffic to stable before anything else is written (as a rollback, stamped on the
  routing objects), then the status: `RolledBack` until a new revision. Event `Aborted`.
- promote: a forced promotion, recorded as an intent (with `control: promote`) before the
  routing moves, then completed by `moving.complete`, which acknowledges it. Event
  `ForcePromoted`.
With `spec.enforcement: observe` neither writes a routing object: both are only recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from canarygate.api.controls import control_entry, with_entries
from canarygate.api.status import appended, rfc3339
from canarygate.core.controls import Control, ControlKind, ControlOutcome, applying
from canarygate.core.errors import ActuatorError, SpecError
from canarygate.core.vocabulary import Action, Phase
from canarygate.kube import KubeError
from canarygate.operator.actuating import set_weight
from canarygate.operator.context import AT_INTERVAL, SOON, GateContext, Next
from canarygate.operator.moving import complete
from canarygate.operator.records import GateRecord, Intent, intent_from_status
from canarygate.operator.vocabulary import EventReason

OBSERVED = "observe only, no traffic moved"


def history_of(
    outcome: ControlOutcome, action: Action, weight_from: int, weight_to: int, now: datetime
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "time": rfc3339(now),
        "action": str(action),
        "weightFrom": weight_from,
        "weightTo": weight_to,
        "reason": outcome.message[:512],
        "control": str(outcome.control.kind),
    }
    if outcome.control.by:
        entry["by"] = outcome.control.by
    return entry


async def abort(ctx: GateContext, record: GateRecord, outcome: ControlOutcome) -> Next:
    """All traffic to stable at once, then the status says who aborted and why."""
    now = ctx.clock()
    weight_from = record.state.weight
    check_fields: dict[str, Any] = {}
    if not record.observing:
        backend = ctx.backend(record)
        try:
            moved = await set_weight(
                ctx.store, backend, 0, stamp=ctx.stamp(record, Action.ROLLBACK, 0, now)
            )
        except (ActuatorError, KubeError, SpecError) as error:
            body = await ctx.fresh(record)
            await ctx.traffic_failed(record, body, error, now)
            return Next(after=1.0, failed=True)
        check_fields = {"check": str(moved.check.outcome), "liveWeight": moved.live_weight}
    observed = f" ({OBSERVED})" if record.observing else ""
    message = f"rollback: aborted: {outcome.message}{observed}"

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        entry = history_of(outcome, Action.ROLLBACK, weight_from, 0, now)
        if record.observing:
            entry["enforcement"] = "observe"
        return {
            **ctx.common(record, status, [], now),
            "phase": str(Phase.ROLLED_BACK),
            "action": str(Action.ROLLBACK),
            "weight": 0,
            "consecutivePasses": 0,
            "intent": None,
            "approval": None,
            "message": message[:1024],
            "controls": with_entries(status.get("controls"), [control_entry(outcome, now)]),
            "traffic": {**(status.get("traffic") or {}), **check_fields},
            "history": appended(status.get("history"), entry),
        }

    written = await ctx.write(record, build)
    if ctx.safety is not None and not record.observing:
        ctx.safety.rolled_back(record, "abort")
    await ctx.event(
        written,
        EventReason.ABORTED,
        f"canary {weight_from}% -> 0%{observed}: {outcome.message}",
        warning=True,
    )
    return AT_INTERVAL


async def force_promote(ctx: GateContext, record: GateRecord, outcome: ControlOutcome) -> Next:
    """The intent first (a forced promotion, who asked and why in the message), then the
    routing and the result, as every move (moving.complete acknowledges the control)."""
    now = ctx.clock()
    intent = Intent(
        action=str(Action.PROMOTE),
        weight_from=record.state.weight,
        weight_to=100,
        revision=record.revision,
        decided_at=now,
        control=str(ControlKind.PROMOTE),
    )
    message = f"promote: forced: {outcome.message}"

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **ctx.common(record, status, [], now),
            "phase": str(Phase.PROGRESSING),
            "action": str(Action.PROMOTE),
            "message": message[:1024],
            "intent": intent.to_status(),
            "approval": None,
        }

    body = await ctx.fresh(record)
    if intent_from_status((body.get("status") or {}).get("intent")) is not None:
        return SOON  # another writer got here first; its intent is completed next
    written = await ctx.write(record, build, body=body, attempts=1)
    return await complete(ctx, record, intent, written)


def forced_outcome(record: GateRecord) -> ControlOutcome | None:
    """The forced promotion an intent was recorded for, as the annotation gives it now."""
    control = applying(record.control_outcomes(), ControlKind.PROMOTE)
    if control is None:
        return None
    return next(o for o in record.control_outcomes() if o.control is control)


async def acknowledge(ctx: GateContext, record: GateRecord) -> None:
    """Acknowledge, in one status write, every control whose effect status does not say yet
    (a pause, a resume, a clearance, any control ignored), each with an Event."""
    pending = [
        o
        for o in record.unacknowledged()
        if o.control.kind is not ControlKind.RESUME
        and not (o.applies and o.control.kind in (ControlKind.ABORT, ControlKind.PROMOTE))
    ]
    resume = _resume(record) if record.resumed() else None
    if not pending and resume is None:
        return
    now = ctx.clock()
    outcomes = [*pending, *((resume,) if resume else ())]
    weight = record.state.weight

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        history = status.get("history")
        for outcome in outcomes:
            history = appended(history, history_of(outcome, Action.HOLD, weight, weight, now))
        return {
            **ctx.common(record, status, [], now),
            "controls": with_entries(
                status.get("controls"),
                [control_entry(o, now) for o in outcomes],
                drop=frozenset({str(ControlKind.PAUSE)}) if resume else frozenset(),
            ),
            "history": history,
        }

    written = await ctx.write(record, build)
    for outcome in outcomes:
        reason, warning = _event_of(outcome)
        await ctx.event(written, reason, outcome.message, warning=warning)


def _resume(record: GateRecord) -> ControlOutcome:
    """The pause status acknowledged is gone: resumed, by whoever `canarygate resume` names."""
    given = next(
        (
            c
            for c in record.controls
            if c.kind is ControlKind.RESUME and c.problem is None and c.target == record.revision
        ),
        None,
    )
    control = given or Control(ControlKind.RESUME, record.revision or "")
    how = "" if given else " (the pause annotation was removed)"
    return ControlOutcome(
        control,
        True,
        f"{control.said()} of revision {record.revision or '(none)'} acknowledged{how}: the "
        "gate is no longer paused; evaluations decide again",
    )


def _event_of(outcome: ControlOutcome) -> tuple[EventReason, bool]:
    if not outcome.applies:
        return EventReason.CONTROL_IGNORED, True
    return {
        ControlKind.PAUSE: (EventReason.PAUSED, False),
        ControlKind.RESUME: (EventReason.RESUMED, False),
        ControlKind.CLEAR_FREEZE: (EventReason.FREEZE_CLEARED, False),
    }.get(outcome.control.kind, (EventReason.CONTROL_IGNORED, True))
