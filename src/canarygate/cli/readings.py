"""What a live CanaryGate says about one revision's rollout: the outcome `canarygate check`
reports and the words it prints. Pure: a gate body (as the API server returns it) in, a
Reading out.

A gate's status belongs to the revision in `status.revision`. When a pipeline sets a new
`spec.canary.revision`, the status still shows the previous rollout (often `Promoted`) until
the operator starts the new one; that previous `Promoted` is not this revision's success. So
a status counts only when its revision is the one watched, and `Invalid` only when the
operator has seen the current generation of the spec (a fixed spec is not still invalid).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from canarygate.cli.sanitising import printable
from canarygate.core.vocabulary import Phase


class Outcome(StrEnum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled-back"
    INVALID = "invalid"
    IN_PROGRESS = "in-progress"  # not finished when asked once (no --wait)
    TIMED_OUT = "timed-out"  # not finished when --timeout ran out
    ERROR = "error"  # the gate could not be followed: the API, a deleted gate, a new revision


# The documented exit codes of `canarygate check` (docs/cli.md): scripts depend on them.
EXIT_CODES: dict[Outcome, int] = {
    Outcome.PROMOTED: 0,
    Outcome.ROLLED_BACK: 1,
    Outcome.INVALID: 2,
    Outcome.IN_PROGRESS: 3,
    Outcome.TIMED_OUT: 3,
    Outcome.ERROR: 4,
}
FINAL = frozenset({Outcome.PROMOTED, Outcome.ROLLED_BACK, Outcome.INVALID})


@dataclass(frozen=True, slots=True)
class Reading:
    """One version of the gate, as it concerns the watched revision."""

    gate: str  # namespace/name
    revision: str | None  # the revision watched
    outcome: Outcome  # PROMOTED, ROLLED_BACK, INVALID or IN_PROGRESS
    spec_revision: str | None
    status_revision: str | None
    phase: str | None  # the status' phase when it is this revision's, else None
    weight: int | None
    health: str | None
    risk: str | None
    mode: str | None
    action: str | None
    message: str  # the deciding reason, or what the gate waits for
    reasons: tuple[str, ...] = ()
    conditions: tuple[Mapping[str, Any], ...] = ()

    @property
    def final(self) -> bool:
        return self.outcome in FINAL

    def significant(self) -> tuple[object, ...]:
        """What a plain progress line is printed for when it changes."""
        return (self.outcome, self.phase, self.weight, self.health, self.action, self.message)

    def summary(self) -> str:
        """`Progressing, weight 20%, health green, action advance: <the deciding reason>`."""
        if self.phase is None:
            return self.message
        parts = [self.phase]
        if self.weight is not None:
            parts.append(f"weight {self.weight}%")
        if self.health is not None:
            parts.append(f"health {self.health}")
        if self.action is not None:
            parts.append(f"action {self.action}")
        text = ", ".join(parts)
        return f"{text}: {self.message}" if self.message else text

    def label(self) -> str:
        """`shop/web revision v2` (or just the gate when no revision is named)."""
        return printable(f"{self.gate} revision {self.revision}") if self.revision else self.gate


def _text(value: object) -> str | None:
    return printable(value) if isinstance(value, str) and value else None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def spec_revision(body: Mapping[str, Any]) -> str | None:
    spec = body.get("spec") or {}
    canary = spec.get("canary") if isinstance(spec, Mapping) else None
    value = canary.get("revision") if isinstance(canary, Mapping) else None
    return value if isinstance(value, str) and value else None


def read_gate(body: Mapping[str, Any], revision: str | None) -> Reading:
    """The gate as it concerns `revision` (None: a gate that names no revision)."""
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    gate = printable(f"{metadata.get('namespace', '')}/{metadata.get('name', '')}")
    in_spec = spec_revision(body)
    raw_revision = status.get("revision")
    in_status = raw_revision if isinstance(raw_revision, str) and raw_revision else None
    phase = status.get("phase") if isinstance(status.get("phase"), str) else None
    generation, observed = metadata.get("generation"), status.get("observedGeneration")
    common: dict[str, Any] = {
        "gate": gate,
        "revision": revision,
        "spec_revision": in_spec,
        "status_revision": in_status,
    }
    rollout = f"revision {revision}" if revision else "the rollout"
    if in_spec != revision:
        return Reading(
            **common, outcome=Outcome.IN_PROGRESS, phase=None, weight=None, health=None,
            risk=None, mode=None, action=None,
            message=printable(
                f"waiting for spec.canary.revision to become {revision or '(none)'} "
                f"(it is {in_spec or '(none)'})"
            ),
        )  # fmt: skip
    current = observed is not None and observed == generation
    if phase == Phase.INVALID and current:
        return _reading(common, Outcome.INVALID, phase, status)
    if phase == Phase.INVALID:  # for an earlier generation of the spec
        return Reading(
            **common, outcome=Outcome.IN_PROGRESS, phase=None, weight=None, health=None,
            risk=None, mode=None, action=None,
            message=f"waiting for the operator to check the edited spec (generation "
            f"{generation}; Invalid was said of generation {observed})",
        )  # fmt: skip
    if phase is None or in_status != revision:
        before = f" (its status is for revision {in_status or '(none)'}: {phase})" if phase else ""
        return Reading(
            **common, outcome=Outcome.IN_PROGRESS, phase=None, weight=None, health=None,
            risk=None, mode=None, action=None,
            message=printable(f"waiting for the operator to start {rollout}{before}"),
        )  # fmt: skip
    if phase == Phase.PROMOTED:
        return _reading(common, Outcome.PROMOTED, phase, status)
    if phase == Phase.ROLLED_BACK:
        return _reading(common, Outcome.ROLLED_BACK, phase, status)
    reading = _reading(common, Outcome.IN_PROGRESS, phase, status)
    approval = status.get("approval")
    if phase == Phase.WAITING_FOR_APPROVAL and isinstance(approval, Mapping):
        key = _text(approval.get("key")) or "?"
        message = f"waiting for approval of {key} (canarygate approve {gate})"
        return Reading(**{**_fields(reading), "message": message})
    return reading


def _reading(
    common: Mapping[str, Any], outcome: Outcome, phase: str, status: Mapping[str, Any]
) -> Reading:
    reasons = _list(status.get("reasons"))
    conditions = _list(status.get("conditions"))
    return Reading(
        **common,
        outcome=outcome,
        phase=printable(phase),
        weight=_int(status.get("weight")),
        health=_text(status.get("health")),
        risk=_text(status.get("risk")),
        mode=_text(status.get("mode")),
        action=_text(status.get("action")),
        message=_text(status.get("message")) or "",
        reasons=tuple(printable(r) for r in reasons if isinstance(r, str)),
        conditions=tuple(c for c in conditions if isinstance(c, Mapping)),
    )


def _fields(reading: Reading) -> dict[str, Any]:
    return {name: getattr(reading, name) for name in Reading.__slots__}


def document(
    reading: Reading | None,
    outcome: Outcome,
    *,
    gate: str,
    revision: str | None,
    elapsed: float,
    error: str | None = None,
) -> dict[str, Any]:
    """`canarygate check -o json`: the result and the last reading of the gate."""
    found: dict[str, Any] = {
        "gate": gate,
        "revision": revision,
        "result": str(outcome),
        "exitCode": EXIT_CODES[outcome],
        "elapsedSeconds": round(elapsed, 1),
    }
    if reading is not None:
        found |= {
            "phase": reading.phase,
            "weight": reading.weight,
            "health": reading.health,
            "risk": reading.risk,
            "mode": reading.mode,
            "action": reading.action,
            "message": reading.message,
            "reasons": list(reading.reasons),
            "statusRevision": reading.status_revision,
            "conditions": [dict(c) for c in reading.conditions],
        }
    if error is not None:
        found["error"] = error
    return found
