"""The ends of a gate's life and of each rollout: an invalid spec, the finalizer, a rollout's
start (original routing saved, canary at 0 %, recorded), and the restore on delete."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from canarygate.api.status import (
    appended,
    rfc3339,
)
from canarygate.core.errors import ActuatorError, SpecError
from canarygate.core.vocabulary import Action, Phase
from canarygate.kube import KubeError
from canarygate.operator import conditions
from canarygate.operator.actuating import read, restore, set_weight
from canarygate.operator.auditing import snapshot
from canarygate.operator.context import AT_INTERVAL, GateContext, Next
from canarygate.operator.logs import gate_fields
from canarygate.operator.records import FINALIZER, GateRecord
from canarygate.operator.vocabulary import EventReason

log = logging.getLogger("canarygate.operator")


async def mark_invalid(ctx: GateContext, record: GateRecord) -> Next:
    if record.state.phase is Phase.INVALID and record.observed_generation == record.generation:
        return AT_INTERVAL
    now = ctx.clock()
    problem = record.problem or "invalid spec"

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **ctx.common(record, status, [conditions.spec_invalid(problem)], now),
            "phase": str(Phase.INVALID),
            "message": f"invalid spec: {problem}",
        }

    body = await ctx.write(record, build)
    await ctx.event(body, EventReason.INVALID_SPEC, problem, warning=True)
    return AT_INTERVAL


async def add_finalizer(ctx: GateContext, record: GateRecord) -> None:
    body = await ctx.store.set_gate_finalizers(
        record.key.namespace,
        record.key.name,
        [*record.finalizers, FINALIZER],
        resource_version=record.resource_version,
    )
    ctx.remember(body)


async def start(ctx: GateContext, record: GateRecord) -> Next:
    """A new rollout: remember the original routing, put the canary at 0 %, record it.
    Observing, the routing is only read: the rollout starts at 0 % in status alone."""
    body = await ctx.fresh(record)
    status = body.get("status") or {}
    now = ctx.clock()
    backend = ctx.backend(record)
    try:
        objects = await read(ctx.store, backend)
        original = (status.get("traffic") or {}).get("original") or backend.snapshot(objects)
        live = backend.read_weight(objects)
        moved = None if record.observing else await set_weight(ctx.store, backend, 0)
    except (ActuatorError, KubeError, SpecError) as error:
        return await ctx.traffic_failed(record, body, error, now)
    revision = record.revision
    observed = " (observe only: no traffic is moved)" if record.observing else ""
    updates = [conditions.spec_valid()]
    traffic: dict[str, Any] = {"provider": record.provider, "original": original}
    if moved is not None:
        updates.append(conditions.from_check(moved.check))
        traffic |= {"check": str(moved.check.outcome), "liveWeight": moved.live_weight}
    else:
        traffic["liveWeight"] = live

    def build(current: Mapping[str, Any]) -> dict[str, Any]:
        entry = {
            "time": rfc3339(now),
            "action": str(Action.HOLD),
            "weightFrom": round(live),
            "weightTo": 0,
            "reason": f"rollout of revision {revision or '(none)'} starts at 0%{observed}",
        }
        return {
            **ctx.common(record, current, updates, now),
            "phase": str(Phase.PENDING),
            "revision": revision,
            "enforcement": str(record.enforcement),
            "weight": 0,
            "consecutivePasses": 0,
            "action": str(Action.HOLD),
            "intent": None,
            "approval": None,
            "guardrails": [],
            "traffic": traffic,
            "message": entry["reason"],
            "history": appended(current.get("history"), entry),
            # The spec this rollout starts with: later edits are recorded against it.
            "specAudit": snapshot(record),
        }

    written = await ctx.write(record, build, body=body)
    await ctx.event(
        written,
        EventReason.ROLLOUT_STARTED,
        f"revision {revision or '(none)'}: canary at 0%, original routing saved{observed}",
    )
    return Next(after=0.0)


async def finalize(ctx: GateContext, record: GateRecord) -> Next:
    if FINALIZER not in record.finalizers:
        return Next(forget=True)
    body = await ctx.fresh(record)
    original = ((body.get("status") or {}).get("traffic") or {}).get("original")
    # An observing gate never wrote a routing object, so it has nothing to restore.
    if original and record.provider and not record.observing:
        try:
            written = await restore(ctx.store, ctx.backend(record), original)
        except (ActuatorError, SpecError) as error:
            log.warning(
                "gate %s: original routing not restored: %s",
                record.key,
                error,
                extra=gate_fields(record.key, record.revision),
            )
            written = -1
        if written >= 0:
            await ctx.event(
                body,
                EventReason.TRAFFIC_RESTORED,
                f"original routing restored ({written} objects)",
            )
    metadata = body.get("metadata") or {}
    remaining = [f for f in metadata.get("finalizers") or [] if f != FINALIZER]
    ctx.remember(
        await ctx.store.set_gate_finalizers(
            record.key.namespace,
            record.key.name,
            remaining,
            resource_version=str(metadata.get("resourceVersion", "")),
        )
    )
    return Next(forget=True)
