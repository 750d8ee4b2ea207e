"""One gate's rollout, one step at a time: which transition a due gate takes now.

`Rollouts.process(record, decision)` is called by the scheduler for a due gate, with the
decision of this tick when the gate was evaluated. It performs at most one transition and
says when the gate wants to be seen again. The transitions, and the order of their writes that
makes a restart exact, live in `lifecycle` (invalid spec, finalizer, a rollout's start, the
restore on delete), `moving` (advance, promote, rollback), `holding` and `drifting` (routing
changed by someone else). A judge-only gate (provider external) takes `judging`'s instead:
it is evaluated and its verdict recorded, and its traffic never touched.

Failures stay with their gate: a missing route gives a condition, an Event and a backoff,
never an exception out of `process`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from canarygate.core.controls import ControlKind
from canarygate.core.decisions import Decision
from canarygate.core.errors import ActuatorError, CanarygateError, NotLeader
from canarygate.core.vocabulary import Action
from canarygate.kube import KubeError
from canarygate.operator import auditing, controlling, drifting, holding, judging, lifecycle, moving
from canarygate.operator.context import (
    AT_INTERVAL,
    GateContext,
    GateStore,
    Next,
    Notify,
    RolloutSettings,
    SafetyMetrics,
)
from canarygate.operator.logs import gate_fields
from canarygate.operator.records import FINALIZER, GateKey, GateRecord

__all__ = ["GateStore", "Next", "RolloutSettings", "Rollouts"]

log = logging.getLogger("canarygate.operator")


class Rollouts:
    def __init__(
        self,
        store: GateStore,
        remember: Callable[[Mapping[str, Any]], None],
        settings: RolloutSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notify: Notify | None = None,
        safety: SafetyMetrics | None = None,
        callers: Callable[[GateKey], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.settings = settings or RolloutSettings()
        self.context = GateContext(store, remember, self.settings, clock, notify, safety, callers)

    async def process(self, record: GateRecord, decision: Decision | None) -> Next:
        """One transition of one gate; never raises for a problem of that gate."""
        try:
            return await self._process(record, decision)
        except NotLeader:
            return Next(after=self.settings.max_backoff_seconds)  # the active replica acts
        except (KubeError, ActuatorError) as error:
            log.warning(
                "gate %s: %s", record.key, error, extra=gate_fields(record.key, record.revision)
            )
            return Next(failed=True)
        except CanarygateError as error:  # a bug in a path, not in the gate: keep going
            log.error(
                "gate %s: unexpected %s: %s",
                record.key,
                type(error).__name__,
                error,
                extra=gate_fields(record.key, record.revision),
            )
            return Next(failed=True)

    async def _process(self, record: GateRecord, decision: Decision | None) -> Next:
        ctx = self.context
        if record.judge_only:
            return await judging.process(ctx, record, decision)
        if record.deleting:
            return await lifecycle.finalize(ctx, record)
        if record.problem is not None:
            return await lifecycle.mark_invalid(ctx, record)
        if FINALIZER not in record.finalizers:
            await lifecycle.add_finalizer(ctx, record)
            return Next(after=0.0)
        if record.needs_start:
            return await lifecycle.start(ctx, record)
        urgent = record.urgent_control()
        if urgent is not None and urgent.control.kind is ControlKind.ABORT:
            return await controlling.abort(ctx, record, urgent)  # before any move in flight
        if record.intent is not None:
            return await moving.complete(ctx, record, record.intent)
        if urgent is not None:
            return await controlling.force_promote(ctx, record, urgent)
        await controlling.acknowledge(ctx, record)
        if record.audit_due:
            # Recorded first; this tick's decision was made with the count already restarted
            # (operator.records), so the transition below may go on with it.
            await auditing.record_edit(ctx, record)
        if record.terminal:
            return await drifting.keep_terminal(ctx, record)
        drift = await drifting.drift_check(ctx, record, decision)
        if drift is not None:
            return drift
        if decision is None:
            return AT_INTERVAL
        if decision.action is Action.ROLLBACK:
            return await moving.roll_back(ctx, record, decision)
        if decision.action in (Action.ADVANCE, Action.PROMOTE):
            return await moving.step(ctx, record, decision)
        return await holding.hold(ctx, record, decision)
