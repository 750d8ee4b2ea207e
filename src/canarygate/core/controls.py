"""Manual controls: pause, resume, abort, a forced promotion, and the clearance of a freeze.

People give a control as an annotation on the gate (`canarygate.io/pause` and the others
below) whose value names what it is meant for: the revision for pause, resume, abort and
promote, the start of the red episode for a clearance. A control meant for anything else (an
earlier revision, an incident already over) is ignored with a reason, so a pause given for
yesterday's release never holds today's, as an approval names one revision and one step
(core.approval).

Reducing exposure needs less than increasing it: pause and abort only ever take traffic
away, and anyone who may annotate the gate may give them; a forced promotion, an approval and
a clearance add exposure, and the chart's admission policy lets only a configured group give
those (charts/canarygate, `admissionPolicy`).

Pure: `judge_controls` says which control applies to a gate now and which are ignored and
why; the annotation values are read by `canarygate.api.controls`, the operator acknowledges
each control in status, and `decide` takes the pause and the clearances (`Controls`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from canarygate.core.vocabulary import Phase


class ControlKind(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"
    PROMOTE = "promote"
    CLEAR_FREEZE = "clear-freeze"


# The annotation each control is given with.
CONTROL_ANNOTATIONS: dict[ControlKind, str] = {
    kind: f"canarygate.io/{kind}" for kind in ControlKind
}
# Controls that add exposure: the admission policy reserves them (and approvals) for a group.
PRIVILEGED_CONTROLS = frozenset({ControlKind.PROMOTE, ControlKind.CLEAR_FREEZE})
# Controls that take a revision (a clearance takes the red episode's start instead).
REVISION_CONTROLS = frozenset(
    {ControlKind.PAUSE, ControlKind.RESUME, ControlKind.ABORT, ControlKind.PROMOTE}
)


@dataclass(frozen=True)
class Control:
    """One control as given: what it names (`target`: a revision, or for a clearance the
    episode's `redSince`), who gave it and why, as the value says (the admission policy
    decides whether that can be trusted), and when (the giver's clock, shown, never compared).
    `problem` is set when the value could not be read: such a control is ignored."""

    kind: ControlKind
    target: str
    by: str | None = None
    reason: str | None = None
    at: str | None = None
    problem: str | None = None

    @property
    def who(self) -> str:
        return self.by or "someone (no name given)"

    def said(self) -> str:
        """`pause by alice (INC-4711)`: the control in words."""
        why = f" ({self.reason})" if self.reason else ""
        return f"{self.kind} by {self.who}{why}"


@dataclass(frozen=True)
class ControlOutcome:
    """What a control does to the gate now: `applies`, or is ignored; `message` says which."""

    control: Control
    applies: bool
    message: str


@dataclass(frozen=True)
class Controls:
    """What `decide` takes from the controls: the pause in force (already judged to be for
    this revision), the clearances given (each names the `redSince` of an episode), and
    whether a person approved this revision's promotion (its `<revision>/promote` approval key,
    core.approval): that lets the last step promote past success metrics worse than the
    baseline, and past nothing else."""

    pause: Control | None = None
    clearances: tuple[Control, ...] = field(default_factory=tuple)
    promotion_approved: bool = False

    def clearance_for(self, red_since: str) -> Control | None:
        return next(
            (c for c in self.clearances if c.problem is None and c.target == red_since), None
        )


NO_CONTROLS = Controls()

_RUNNING = frozenset({Phase.PENDING, Phase.PROGRESSING, Phase.WAITING_FOR_APPROVAL})


def judge_controls(
    controls: Iterable[Control], revision: str | None, phase: Phase
) -> tuple[ControlOutcome, ...]:
    """Each revision control (pause, resume, abort, promote) with what it does now, in the
    order of `ControlKind`. An abort wins over a forced promotion for the same revision:
    taking traffic away is never blocked by a request to add it."""
    given = {c.kind: c for c in controls if c.kind in REVISION_CONTROLS}
    outcomes: list[ControlOutcome] = []
    abort_applies = False
    for kind in (ControlKind.PAUSE, ControlKind.RESUME, ControlKind.ABORT, ControlKind.PROMOTE):
        control = given.get(kind)
        if control is None:
            continue
        ignored = _ignored(control, revision, phase, abort_applies=abort_applies)
        if ignored is None and kind is ControlKind.ABORT:
            abort_applies = True
        outcomes.append(
            ControlOutcome(control, ignored is None, ignored or _applied(control, revision))
        )
    return tuple(outcomes)


def _ignored(
    control: Control, revision: str | None, phase: Phase, *, abort_applies: bool
) -> str | None:
    """Why `control` is ignored now, or None when it applies."""
    said = control.said()
    if control.problem is not None:
        return f"{said} ignored: {control.problem}"
    if control.target != (revision or ""):
        shown = revision or "(none)"
        return (
            f"{said} ignored: it names revision {control.target}, and the gate rolls out "
            f"revision {shown}"
        )
    if control.kind is ControlKind.ABORT and phase not in _RUNNING:
        return f"{said} ignored: the rollout of {control.target} is already {phase}"
    if control.kind is ControlKind.PROMOTE:
        if abort_applies:
            return f"{said} ignored: an abort of the same revision wins"
        if phase not in _RUNNING:
            return (
                f"{said} ignored: the rollout of {control.target} is already {phase}; "
                "a rolled-back revision stays rolled back until a new one"
            )
    return None


def _applied(control: Control, revision: str | None) -> str:
    what = {
        ControlKind.PAUSE: "the gate holds where it is (a critical guardrail still rolls back)",
        ControlKind.RESUME: "the gate is no longer paused",
        ControlKind.ABORT: "all traffic goes to stable, and stays there until a new revision",
        ControlKind.PROMOTE: "the canary is promoted now, whatever the evaluation says",
        ControlKind.CLEAR_FREEZE: "the freeze ends without waiting for its cooldown",
    }[control.kind]
    return f"{control.said()} of revision {revision or '(none)'} acknowledged: {what}"


def applying(outcomes: Iterable[ControlOutcome], kind: ControlKind) -> Control | None:
    """The control of `kind` that applies, if any."""
    return next((o.control for o in outcomes if o.applies and o.control.kind is kind), None)
