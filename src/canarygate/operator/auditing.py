"""The audit of a gate's own spec: an edit made during a rollout is recorded in the history
(the generation, which fields changed and how), with an Event; an edit that loosens a rule
restarts the count of passes for the current step (core.auditing says which do).

The status keeps the fields of the spec it last saw (`status.specAudit`), so an edit made
while the operator was down is recorded when it comes back, exactly once: the write that
records it also takes the new fields.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from canarygate.api.status import appended, rfc3339, significant
from canarygate.core.auditing import SpecChanges
from canarygate.core.vocabulary import Action
from canarygate.operator.context import GateContext
from canarygate.operator.records import GateRecord
from canarygate.operator.vocabulary import EventReason

log = logging.getLogger("canarygate.operator")

# The note a record keeps when its status cannot hold `specAudit` (see record_edit).
UNSUPPORTED: Final = "spec-audit"
CHANGES_LIMIT: Final = 20  # per history entry; the reason says how many there were
_NAMED = 3  # changes named in the reason and the Event


def snapshot(record: GateRecord) -> dict[str, Any] | None:
    """`status.specAudit` for the record's spec: its generation and its fields."""
    if record.audit_fields is None:
        return None
    return {"generation": record.generation, "fields": dict(record.audit_fields)}


def describe_edit(record: GateRecord, edit: SpecChanges) -> str:
    """`spec edited (generation 3 -> 4): spec.canary.guardrails[error-rate].max: 0.01 ->
    0.05 (looser); the count of passes at 20% restarts`."""
    since = f"{record.audited_generation} -> " if record.audited_generation is not None else ""
    named = "; ".join(c.describe() for c in edit.changes[:_NAMED])
    more = f"; and {len(edit.changes) - _NAMED} more" if len(edit.changes) > _NAMED else ""
    if edit.loosened:
        effect = f"a looser rule: the count of passes at {record.state.weight}% restarts"
    else:
        effect = "no rule loosened: the count of passes is kept"
    return f"spec edited (generation {since}{record.generation}): {named}{more}; {effect}"


async def record_edit(ctx: GateContext, record: GateRecord) -> None:
    """Record the edit (during a rollout) and take the new fields. A status that cannot keep
    them (a CRD older than the operator prunes `specAudit`) is noted in memory, so the gate is
    not written again for it on every tick."""
    now = ctx.clock()
    edit = record.edit if record.in_rollout else None
    message = describe_edit(record, edit) if edit else None

    def build(status: Mapping[str, Any]) -> dict[str, Any]:
        patch = {**ctx.common(record, status, [], now), "specAudit": snapshot(record)}
        if edit and message is not None:
            weight = record.state.weight
            entry = {
                "time": rfc3339(now),
                "action": status.get("action") or str(Action.HOLD),
                "health": status.get("health"),
                "risk": status.get("risk"),
                "mode": status.get("mode"),
                "weightFrom": weight,
                "weightTo": weight,
                "reason": message,
                "generation": record.generation,
                "changes": [c.describe() for c in edit.changes[:CHANGES_LIMIT]],
            }
            patch["history"] = appended(
                status.get("history"), {k: v for k, v in entry.items() if v is not None}
            )
            if edit.loosened:
                patch["consecutivePasses"] = 0
        return patch

    written = await ctx.write(record, build)
    # The transition that follows in this tick compares with what is now written.
    record.digest = significant(written.get("status") or {})
    record.resource_version = str((written.get("metadata") or {}).get("resourceVersion", ""))
    if "specAudit" not in (written.get("status") or {}):
        record.notes[UNSUPPORTED] = "status.specAudit pruned: the CRD predates it"
        log.warning(
            "gate %s: status.specAudit was pruned (the CRD is older than the operator); spec "
            "edits are not audited until the CRD is updated",
            record.key,
        )
    if message is not None:
        await ctx.event(written, EventReason.SPEC_EDITED, message)
