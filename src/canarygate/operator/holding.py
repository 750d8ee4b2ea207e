"""Holding: status written only when something significant changed (or on the heartbeat),
an Event only when the hold starts or changes character."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from canarygate.api.status import (
    REASONS_LIMIT,
    counters,
    evidence,
    rfc3339,
    significant,
)
from canarygate.core.approval import APPROVE_ANNOTATION, FULL_TRAFFIC, awaited_approval
from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.vocabulary import Action, Mode, Phase
from canarygate.operator import conditions
from canarygate.operator.context import (
    AT_INTERVAL,
    HELD,
    GateContext,
    Next,
    merged_conditions,
)
from canarygate.operator.records import GateRecord
from canarygate.operator.vocabulary import ConditionReason, ConditionType, EventReason
from canarygate.traffic import WeightCheck

log = logging.getLogger("canarygate.operator")

# The reason code of a step that waits for the routing to carry the current weight.
WAITING_FOR_TRAFFIC = "WaitingForTraffic"
# The reason code of a move that waits for a person's approval.
APPROVAL_NEEDED = "ApprovalNeeded"


def approval_howto(record: GateRecord, key: str) -> str:
    """How to give an approval, in words someone can paste."""
    gate = f"{record.key.namespace}/{record.key.name}"
    return (
        f"canarygate approve {gate}, or kubectl annotate canarygate {record.key.name} "
        f"-n {record.key.namespace} {APPROVE_ANNOTATION}={key} --overwrite"
    )


async def hold(
    ctx: GateContext,
    record: GateRecord,
    decision: Decision,
    *,
    waiting: WeightCheck | None = None,
    approval: str | None = None,
) -> Next:
    """Hold: write the status only when something significant changed (or the heartbeat
    is due). With `waiting`, the decision would move traffic but the routing does not
    carry the current weight yet, so the step waits (as Argo Rollouts waits for
    VerifyWeight): a canary whose pods never become ready is never promoted. With
    `approval`, the move waits for a person to approve it (that key); so does a decision
    that waits for a person whatever the approval policy (`Decision.awaits_approval`)."""
    now = ctx.clock()
    moving, moving_to = decision.action, decision.weight_next
    if approval is None and decision.awaits_approval is not None:
        approval = awaited_approval(decision.awaits_approval, record.revision)
        moving, moving_to = decision.awaits_approval, FULL_TRAFFIC
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
    if approval is None and record.state.phase is Phase.WAITING_FOR_APPROVAL:
        # The move it waited for is no longer what the gate would do (health turned, a
        # guardrail failed): it holds for that reason now, not for a person.
        fields.update(
            phase=str(Phase.PROGRESSING if record.state.weight > 0 else Phase.PENDING),
            approval=None,
        )
    if approval is not None:
        how = approval_howto(record, approval)
        why = (
            f"hold: {moving} {record.state.weight}% -> {moving_to}% waits "
            f"for approval {approval}: {how}"
        )
        since = record.approval_since if record.approval_key == approval else None
        fields.update(
            action=str(Action.HOLD),
            message=why,
            reasons=[why, *fields["reasons"]][:REASONS_LIMIT],
            reasonCodes=[APPROVAL_NEEDED, *fields["reasonCodes"]][:REASONS_LIMIT],
            consecutivePasses=record.state.consecutive_passes,
            phase=str(Phase.WAITING_FOR_APPROVAL),
            approval={
                "key": approval,
                "action": str(moving),
                "toWeight": moving_to,
                "waitingSince": since or rfc3339(now),
                "how": how,
            },
        )
    candidate = {
        **fields,
        "intent": None,
        "conditions": [
            {"type": t, "status": s, "reason": r}
            for t, (s, r) in merged_conditions(record.conditions, updates).items()
        ],
    }
    heartbeat_due = record.last_evaluation is None or now - record.last_evaluation > timedelta(
        seconds=ctx.settings.heartbeat_seconds
    )
    # A move that waits is a hold, whatever the decision said (metrics and logs count it so).
    outcome = AT_INTERVAL if waiting is None and approval is None else HELD
    if significant(candidate) == record.digest and not heartbeat_due:
        return outcome

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {**ctx.common(record, status, updates, now), **fields}

    body = await ctx.fresh(record)
    before = body.get("status") or {}
    written = await ctx.write(record, build, body=body)
    if approval is not None:
        if record.approval_key != approval:
            await ctx.event(written, EventReason.WAITING_FOR_APPROVAL, str(fields["message"]))
    elif waiting is None:
        await announce_hold(ctx, written, before, decision)
    elif record.conditions.get(ConditionType.TRAFFIC_READY) != (
        "Unknown",
        ConditionReason.CANNOT_TELL,
    ):
        await ctx.event(written, EventReason.WAITING_FOR_TRAFFIC, str(fields["message"]))
    return outcome


async def announce_hold(
    ctx: GateContext, body: Mapping[str, Any], before: Mapping[str, Any], decision: Decision
) -> None:
    """An Event when holding starts or changes character, not on every tick: a refused
    query or an unreachable Prometheus that appears, a freeze that starts or ends, or a
    hold whose deciding reason changed."""
    codes_before = list(before.get("reasonCodes") or [])
    lead_before = codes_before[0] if codes_before else None
    lead = str(decision.reasons[0].code) if decision.reasons else None
    mode_before = before.get("mode")
    message = decision.reasons[0].message if decision.reasons else "hold"
    appeared = {r.code: r.message for r in reversed(decision.reasons) if r.code not in codes_before}
    if ReasonCode.QUERY_ERROR in appeared:
        await ctx.event(
            body, EventReason.QUERY_ERROR, appeared[ReasonCode.QUERY_ERROR], warning=True
        )
    elif ReasonCode.PROMETHEUS_UNAVAILABLE in appeared:
        await ctx.event(
            body,
            EventReason.PROMETHEUS_UNAVAILABLE,
            f"holding: {appeared[ReasonCode.PROMETHEUS_UNAVAILABLE]}",
            warning=True,
        )
    elif decision.mode is Mode.FREEZE and mode_before != str(Mode.FREEZE):
        await ctx.event(body, EventReason.FROZEN, message, warning=True)
    elif mode_before == str(Mode.FREEZE) and decision.mode is not Mode.FREEZE:
        await ctx.event(body, EventReason.UNFROZEN, f"health {decision.health}: {message}")
    elif lead == ReasonCode.PAUSED:
        return  # the pause's own Event (Paused) says it
    elif lead != lead_before or before.get("action") != str(Action.HOLD):
        await ctx.event(body, EventReason.HOLD_STARTED, message)
