"""Routing changed outside canarygate: noticed now and then, reported once, never fought;
a rolled-back gate is kept on stable. A rollback that a restart interrupted is recorded."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from canarygate.core.decisions import Decision
from canarygate.core.errors import ActuatorError, SpecError
from canarygate.core.vocabulary import Action, Phase
from canarygate.kube import KubeError
from canarygate.operator import conditions
from canarygate.operator.actuating import last_change, read, set_weight
from canarygate.operator.context import AT_INTERVAL, GateContext, Next
from canarygate.operator.moving import finish_rollback
from canarygate.operator.records import GateRecord
from canarygate.operator.vocabulary import ConditionReason, ConditionType, EventReason
from canarygate.traffic import CheckOutcome, WeightCheck

log = logging.getLogger("canarygate.operator")


async def drift_check(
    ctx: GateContext, record: GateRecord, decision: Decision | None
) -> Next | None:
    """Now and then, compare the live weight with the status; a difference nobody
    recorded means someone else changed the routing: hold and say so once, never fight.
    While the mismatch stands (its condition is in status), look at every visit, quietly,
    and carry on as soon as the weights are back. A rollback is never held back. An observing
    gate does not own the routing: whoever moves it, there is nothing to compare."""
    if record.observing:
        return None
    standing = record.conditions.get(ConditionType.TRAFFIC_READY) == (
        "False",
        ConditionReason.WEIGHT_MISMATCH,
    )
    if not standing and not ctx.drift_check_due(record):
        return None
    record.last_drift_check = time.monotonic()
    backend = ctx.backend(record)
    try:
        objects = await read(ctx.store, backend)
        check = backend.check_weight(objects, record.state.weight)
    except (ActuatorError, KubeError, SpecError) as error:
        body = await ctx.fresh(record)
        return await ctx.traffic_failed(record, body, error, ctx.clock())
    # The backend judges: replica ratios, say, cannot tell while pods start, which is
    # no one else's change. Only a mismatch it is sure of counts.
    if check.outcome is not CheckOutcome.MISMATCH:
        if standing:
            await mismatch_resolved(ctx, record, check)
        return None
    stamp = last_change(objects)
    if (
        backend.check_weight(objects, 0).outcome is not CheckOutcome.MISMATCH
        and stamp is not None
        and stamp.get("action") == str(Action.ROLLBACK)
        and stamp.get("gate") == record.uid
        and stamp.get("revision") == record.revision
    ):
        return await finish_rollback(ctx, record, stamp)
    if decision is not None and decision.action is Action.ROLLBACK:
        return None  # moving everyone to stable is right whoever changed the weights
    if standing:
        return AT_INTERVAL
    why = (
        f"{check.reason}, but canarygate set {record.state.weight}%: routing was changed "
        "outside canarygate (see the GitOps settings in docs/gitops.md); holding"
    )
    now = ctx.clock()

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **ctx.common(record, status, [conditions.weight_mismatch(why)], now),
            "message": why,
        }

    written = await ctx.write(record, build)
    await ctx.event(written, EventReason.WEIGHT_MISMATCH, why, warning=True)
    return AT_INTERVAL


async def mismatch_resolved(ctx: GateContext, record: GateRecord, check: WeightCheck) -> None:
    now = ctx.clock()

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return ctx.common(record, status, [conditions.from_check(check)], now)

    await ctx.write(record, build)


async def keep_terminal(ctx: GateContext, record: GateRecord) -> Next:
    """A rolled-back gate keeps 100 % on stable until a new revision (checked now and then);
    a promoted one is left alone: the pipeline takes over from there. An observing gate
    touches nothing."""
    if record.observing:
        return AT_INTERVAL
    if record.state.phase is not Phase.ROLLED_BACK or not ctx.drift_check_due(record):
        return AT_INTERVAL
    record.last_drift_check = time.monotonic()
    backend = ctx.backend(record)
    moved = await set_weight(ctx.store, backend, 0)
    if moved.written:
        body = await ctx.fresh(record)
        await ctx.event(
            body,
            EventReason.WEIGHT_MISMATCH,
            "the canary of a rolled-back gate had traffic again; set back to 0%",
            warning=True,
        )
    return AT_INTERVAL
