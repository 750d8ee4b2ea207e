"""Incident-aware freeze: a freeze that lifts only after a cooldown, and a lane for hotfixes.

Red customer health freezes every gate (the matrix). Two things make that fit an incident:

- **Hysteresis.** The freeze does not lift the moment health leaves red, while the incident
  may still be triaged: health must stay out of red (green or yellow, known) for the cooldown
  (`spec.policy.freezeCooldown`, default 10m), or someone clears the freeze with the
  annotation `canarygate.io/clear-freeze` naming the episode (its `redSince`), before steps
  resume. Unknown health is no evidence that red ended: it restarts the count.
- **The hotfix lane.** A gate declared a hotfix (`spec.risk.factors.changeType: hotfix`, with
  the incident it fixes in `incident`) is not frozen by red or delayed by yellow health: it
  proceeds in the guarded mode (every guardrail critical, `guardedPasses` passes per step),
  while every other gate stays frozen. Unknown health still holds it: silence never advances.

Pure: the memory of a red episode (`FreezeMemory`) lives in the gate's status; `follow_freeze`
is given the time (`now`) and returns the memory to keep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.controls import (
    CONTROL_ANNOTATIONS,
    Control,
    ControlKind,
    ControlOutcome,
    Controls,
)
from canarygate.core.decisions import Reason, ReasonCode
from canarygate.core.durations import Duration
from canarygate.core.health import JourneyAssessment
from canarygate.core.matrix import MODE_BEHAVIOURS, AdvanceRule
from canarygate.core.specs import RiskFactors
from canarygate.core.state import FreezeMemory, clock_time
from canarygate.core.vocabulary import Health, Mode

HOTFIX = "hotfix"
CLEAR_FREEZE_ANNOTATION = CONTROL_ANNOTATIONS[ControlKind.CLEAR_FREEZE]
# Health that a hotfix proceeds under, guarded, where other gates freeze or delay.
HOTFIX_HEALTH = frozenset({Health.RED, Health.YELLOW})


@dataclass(frozen=True)
class FreezeVerdict:
    memory: FreezeMemory | None  # to remember in status; None: no episode in progress
    # The deciding reason while the cooldown holds the gate (the mode is then `freeze`).
    holding: Reason | None
    notes: tuple[Reason, ...]  # what the episode is, when it lifted, and by whom
    cleared_by: str | None = None  # who cleared the episode with an annotation, if someone did
    # The cooldown in words, for the reasons when another hold decides (a guardrail).
    cooling: Reason | None = None


def is_hotfix(factors: RiskFactors) -> bool:
    return factors.change_type == HOTFIX


# Modes a hotfix is lifted out of: those that would hold it for customer health alone.
_HOLDING_RULES = frozenset({AdvanceRule.NEVER, AdvanceRule.IF_NEUTRAL_AND_REVERSIBLE})


def hotfix_mode(factors: RiskFactors, health: Health, mode: Mode) -> tuple[Mode, str | None]:
    """The mode a gate takes, and why when the hotfix lane changed it: a hotfix that red or
    yellow health would hold (freeze, delay, neutral-only, or a mode a matrix override chose)
    proceeds guarded; one the matrix already lets advance keeps its mode."""
    holds = MODE_BEHAVIOURS[mode].advance in _HOLDING_RULES
    if is_hotfix(factors) and health in HOTFIX_HEALTH and holds:
        incident = f" for incident {factors.incident}" if factors.incident else ""
        return Mode.GUARDED, f"hotfix{incident}: {health} health does not {mode} it"
    return mode, None


def follow_freeze(
    memory: FreezeMemory | None,
    health: Health,
    journeys: Sequence[JourneyAssessment],
    cooldown: Duration,
    controls: Controls,
    now: datetime,
    *,
    hotfix: bool = False,
) -> FreezeVerdict:
    """The red episode after this evaluation: started or kept while red, cooling down once
    health is known out of red, ended after the cooldown or by a clearance. A hotfix gate
    keeps the memory (its status shows the incident) but is never held by the cooldown.
    Times are kept to the second, as the status writes them, so that a restart from status
    resumes the same cooldown exactly."""
    now = now.replace(microsecond=0)
    if health is Health.RED:
        red = tuple(j.name for j in journeys if j.critical and j.health is Health.RED)
        since = memory.red_since if memory else now
        kept = FreezeMemory(since, red or (memory.journeys if memory else ()))
        note = _hotfix_note(kept) if hotfix else _red_note(kept, cooldown)
        return FreezeVerdict(kept, None, (note,))
    if memory is None:
        return FreezeVerdict(None, None, ())
    if health is Health.UNKNOWN:
        kept = FreezeMemory(memory.red_since, memory.journeys, None)
        note = Reason(
            ReasonCode.FREEZE,
            f"frozen: {kept.what()}; health is unknown, so the cooldown starts once health is "
            "known to be out of red",
        )
        return FreezeVerdict(kept, None, (note,))
    clearance = controls.clearance_for(memory.key)
    if clearance is not None:
        note = Reason(
            ReasonCode.FREEZE_CLEARED,
            f"freeze ({memory.what()}) cleared by {clearance.who}"
            + (f" ({clearance.reason})" if clearance.reason else "")
            + f": steps resume; health is {health}",
        )
        return FreezeVerdict(None, None, (note,), cleared_by=clearance.who)
    cooling = FreezeMemory(memory.red_since, memory.journeys, memory.clear_since or now)
    until = cooling.cooldown_until(cooldown)
    assert until is not None
    if now >= until:
        note = Reason(
            ReasonCode.FREEZE_CLEARED,
            f"freeze ({memory.what()}) ended: health out of red since "
            f"{clock_time(cooling.clear_since or now)} for the cooldown of {cooldown}",
        )
        return FreezeVerdict(None, None, (note,))
    if hotfix:
        return FreezeVerdict(cooling, None, (_cooling_note(cooling, until, cooldown),))
    said = (
        f"frozen: {cooling.what()}; cooldown until {clock_time(until)} (health must stay "
        f"out of red for {cooldown}, or clear it: {CLEAR_FREEZE_ANNOTATION}={cooling.key})"
    )
    holding = Reason(ReasonCode.FREEZE_COOLDOWN, f"hold: {said}")
    return FreezeVerdict(cooling, holding, (), cooling=Reason(ReasonCode.FREEZE, said))


def judge_clearance(control: Control, memory: FreezeMemory | None) -> ControlOutcome:
    """A clearance applies while the episode it names is in progress: the freeze then ends
    at the first evaluation out of red, without waiting for its cooldown."""
    said = control.said()
    if control.problem is not None:
        return ControlOutcome(control, False, f"{said} ignored: {control.problem}")
    if memory is None:
        return ControlOutcome(
            control,
            False,
            f"{said} ignored: it names the red episode of {control.target}, and no freeze is "
            "in progress",
        )
    if control.target != memory.key:
        return ControlOutcome(
            control,
            False,
            f"{said} ignored: it names the red episode of {control.target}, and the freeze in "
            f"progress began at {memory.key}",
        )
    return ControlOutcome(
        control,
        True,
        f"{said} of the freeze ({memory.what()}) acknowledged: steps resume at the first "
        "evaluation out of red, without the cooldown",
    )


def _red_note(memory: FreezeMemory, cooldown: Duration) -> Reason:
    return Reason(
        ReasonCode.FREEZE,
        f"frozen: {memory.what()}; steps resume once health stays out of red for {cooldown} "
        f"(or a clearance: {CLEAR_FREEZE_ANNOTATION}={memory.key})",
    )


def _hotfix_note(memory: FreezeMemory) -> Reason:
    return Reason(
        ReasonCode.FREEZE,
        f"incident: {memory.what()}; other gates are frozen, this hotfix proceeds guarded",
    )


def _cooling_note(memory: FreezeMemory, until: datetime, cooldown: Duration) -> Reason:
    return Reason(
        ReasonCode.FREEZE,
        f"freeze cooling down: {memory.what()}; other gates hold until {clock_time(until)} "
        f"(out of red for {cooldown}); a hotfix proceeds",
    )
