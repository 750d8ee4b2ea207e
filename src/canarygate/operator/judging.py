"""Judge-only gates (provider external): canarygate evaluates them on their interval and
answers the verdict API, and never reads or writes a routing object for them.

- start: a new revision (or a first sighting) is recorded: phase Progressing, the weight the
  callers last reported (0 until one does), counters reset. No finalizer: there is no routing
  to restore.
- each evaluation: the evidence, the counters and the weight judged are written when something
  significant changed (as a hold is), together with `status.verdict`: the verdict of this
  evaluation and what the verdict API answered each caller. So a status write happens at most
  once per interval, and only on change, however often callers poll. An Event says when the
  verdict changes.

A judge-only gate never ends in Promoted or RolledBack: the tool moving its traffic decides
what a verdict leads to. Consecutive passes count evaluations over time, whatever the weight
(the other tool paces the steps), capped at what the matrix needs, so the count stops changing
once it suffices.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from canarygate.api.status import appended, evidence, rfc3339, significant
from canarygate.core.decisions import Decision
from canarygate.core.judging import judge
from canarygate.core.matrix import MODE_BEHAVIOURS, AdvanceRule
from canarygate.core.vocabulary import Action, Phase
from canarygate.operator import conditions, lifecycle
from canarygate.operator.context import AT_INTERVAL, GateContext, Next, merged_conditions
from canarygate.operator.logs import gate_fields
from canarygate.operator.records import GateRecord
from canarygate.operator.vocabulary import EventReason

log = logging.getLogger("canarygate.operator")

# In the record's notes: the verdict last recorded, and that the API server drops the field.
LAST_VERDICT = "verdict"
PRUNED = "verdict-pruned"

JUDGE_ONLY_MESSAGE = (
    "judge only (provider external): canarygate answers the verdict API and moves no traffic"
)


async def process(ctx: GateContext, record: GateRecord, decision: Decision | None) -> Next:
    """The one transition of a judge-only gate."""
    if record.deleting:
        return await lifecycle.finalize(ctx, record)
    if record.problem is not None:
        return await lifecycle.mark_invalid(ctx, record)
    if record.needs_start:
        return await start(ctx, record)
    if decision is None:
        return AT_INTERVAL
    return await record_verdict(ctx, record, decision)


async def start(ctx: GateContext, record: GateRecord) -> Next:
    now = ctx.clock()
    weight = record.evaluation_state.weight
    revision = record.revision

    def build(current: Mapping[str, Any]) -> dict[str, Any]:
        entry = {
            "time": rfc3339(now),
            "action": str(Action.HOLD),
            "weightFrom": weight,
            "weightTo": weight,
            "reason": f"revision {revision or '(none)'} judged: {JUDGE_ONLY_MESSAGE}",
        }
        return {
            **ctx.common(record, current, [conditions.spec_valid()], now),
            "phase": str(Phase.PROGRESSING),
            "revision": revision,
            "weight": weight,
            "consecutivePasses": 0,
            "action": str(Action.HOLD),
            "intent": None,
            "approval": None,
            "guardrails": [],
            "traffic": {"provider": record.provider},
            "message": JUDGE_ONLY_MESSAGE,
            "history": appended(current.get("history"), entry),
        }

    written = await ctx.write(record, build)
    await ctx.event(
        written,
        EventReason.JUDGING_STARTED,
        f"revision {revision or '(none)'}: {JUDGE_ONLY_MESSAGE}",
    )
    return Next(after=0.0)


def passes_after(record: GateRecord, decision: Decision) -> int:
    """Consecutive passing evaluations after this one. `decide` restarts the count after a
    move it expects canarygate to make; no move is made here, so a passing evaluation adds
    one, up to the number the policy asks for."""
    if decision.action not in (Action.ADVANCE, Action.PROMOTE):
        return decision.state.consecutive_passes
    counted = MODE_BEHAVIOURS[decision.mode].advance is AdvanceRule.CONSECUTIVE_PASSES
    needed = record.spec.policy.guarded_passes if counted and record.spec is not None else 1
    return min(record.state.consecutive_passes + 1, max(needed, 1))


async def record_verdict(ctx: GateContext, record: GateRecord, decision: Decision) -> Next:
    now = ctx.clock()
    judgement = judge(decision)
    updates = conditions.from_decision(decision)
    fields: dict[str, Any] = {
        **evidence(decision),
        "phase": str(Phase.PROGRESSING),
        "consecutivePasses": passes_after(record, decision),
        "weight": decision.weight_current,
        "revision": record.revision,
        "verdict": {"verdict": str(judgement), "callers": ctx.callers(record.key)},
    }
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
    pruned = PRUNED in record.notes
    compared = {k: v for k, v in candidate.items() if k != "verdict"} if pruned else candidate
    if significant(compared) == record.digest and not heartbeat_due:
        return AT_INTERVAL

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        return {**ctx.common(record, status, updates, now), **fields}

    body = await ctx.fresh(record)
    stored = ((body.get("status") or {}).get("verdict") or {}).get("verdict")
    before = record.notes.get(LAST_VERDICT, stored)
    written = await ctx.write(record, build, body=body)
    if "verdict" not in (written.get("status") or {}) and not pruned:
        # The API server dropped the field: its CRD is older than this operator (Helm does
        # not upgrade CRDs). Said once; the field is then left out of what counts as a change,
        # so the gate is not rewritten on every evaluation.
        record.notes[PRUNED] = "1"
        log.warning(
            "gate %s: the API server dropped status.verdict: apply this version's CRD "
            "(crds/canarygate.io_canarygates.yaml); the verdicts are answered meanwhile but "
            "not recorded in status",
            record.key,
            extra=gate_fields(record.key, record.revision),
        )
    record.notes[LAST_VERDICT] = str(judgement)
    if before != str(judgement):
        message = decision.reasons[0].message if decision.reasons else str(decision.action)
        await ctx.event(
            written,
            EventReason.VERDICT_CHANGED,
            f"verdict {before or '(none)'} -> {judgement} at {decision.weight_current}%: {message}",
            warning=str(judgement) in ("fail", "error"),
        )
    return AT_INTERVAL
