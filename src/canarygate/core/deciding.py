"""`decide`: one evaluation of a gate, from observations and remembered state to a Decision.

Pure: the caller supplies the clock and the measurements and persists the returned state.
The order of checks is the order of precedence: a finished gate stays finished; a critical
guardrail at its failure limit rolls back in every mode; a pause holds; any failing guardrail
holds; a canary whose exposure is not proven, or any inconclusive guardrail, holds; then the
matrix mode (a hotfix's lane, a freeze's cooldown, a freeze window) says whether a passing
evaluation may move traffic; success metrics say whether the last step promotes (never more
than that); last, the checks due (core.checking) may hold the move, or roll back when a
critical one failed. These are the nine rules of the precedence list in docs/decisions.md,
numbered in core.explaining.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.checking import CheckGate, check_reasons, judge_checks
from canarygate.core.checks import CheckResult
from canarygate.core.controls import NO_CONTROLS, Control, Controls
from canarygate.core.decisions import Decision, Reason, ReasonCode
from canarygate.core.exposure import Exposure, ExposureAssessment, judge_exposure
from canarygate.core.freshness import apply_freshness, judge_freshness, stale_reasons
from canarygate.core.guardrails import GuardrailAssessment, judge_guardrail
from canarygate.core.health import (
    JourneyAssessment,
    assess_journey,
    combine_health,
    composite_score,
)
from canarygate.core.incidents import follow_freeze, hotfix_mode, is_hotfix
from canarygate.core.matrix import MODE_BEHAVIOURS, AdvanceRule, ModeBehaviour, mode_for
from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryProblem,
    query_problems,
)
from canarygate.core.queries import journey_windows
from canarygate.core.risk import assess_risk, raised_by_windows
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.core.success import SuccessAssessment, judge_success_metric
from canarygate.core.vocabulary import (
    TERMINAL_PHASES,
    Action,
    Enforcement,
    Health,
    Lift,
    Mode,
    Phase,
    Severity,
    Verdict,
    WindowEffect,
)
from canarygate.core.windows import WallClocks, WindowJudged, in_force, judge_windows

FULL_TRAFFIC = 100


@dataclass(frozen=True)
class _Outcome:
    action: Action
    weight_next: int
    consecutive_passes: int
    reasons: tuple[Reason, ...]
    # A hold that a person's approval of this move ends (Decision.awaits_approval).
    awaits_approval: Action | None = None


def decide(
    spec: GateSpec,
    state: GateState,
    observations: Observations,
    now: datetime,
    clocks: WallClocks | None = None,
    *,
    controls: Controls = NO_CONTROLS,
    checks: Mapping[str, CheckResult] | None = None,
) -> Decision:
    """One evaluation. `clocks`: what the wall clocks of the zones the gate's windows name
    showed at `now` (the shell reads them; without them a window counts as in force);
    `controls` are the people's (a pause, freeze clearances); `checks` the answers of webhook
    checks the shell called for this evaluation (see `checks_wanted`)."""
    journeys = tuple(
        assess_journey(journey, journey_windows(journey, spec), spec.health, observations)
        for journey in spec.journeys
    )
    freshness = judge_freshness(spec, observations)
    journeys = apply_freshness(journeys, freshness)
    health = combine_health(journeys)
    windows = judge_windows(spec.policy.windows, clocks, now)
    risk = raised_by_windows(assess_risk(spec.risk), in_force(windows, WindowEffect.HIGH_RISK))
    cell_mode = mode_for(spec.policy, health, risk.risk)
    mode, lane = hotfix_mode(spec.risk.factors, health, cell_mode)
    freeze = follow_freeze(
        state.freeze,
        health,
        journeys,
        spec.policy.freeze_cooldown,
        controls,
        now,
        hotfix=is_hotfix(spec.risk.factors),
    )
    if freeze.holding is not None:
        mode = Mode.FREEZE
    # A freeze window stops every step, as red health does, the hotfix lane's included: a
    # window is a decision people made in advance about when nothing ships.
    freezing = in_force(windows, WindowEffect.FREEZE)
    unfrozen = mode
    window_froze = bool(freezing) and MODE_BEHAVIOURS[mode].advance is not AdvanceRule.NEVER
    if window_froze:
        mode = Mode.FREEZE
    behaviour = MODE_BEHAVIOURS[mode]
    guardrails = tuple(
        judge_guardrail(
            g,
            observations,
            state.guardrail_failures.get(g.name, 0),
            canary_has_traffic=state.weight > 0,
        )
        for g in spec.canary.guardrails
    )
    success = tuple(judge_success_metric(m, observations) for m in spec.canary.success_metrics)
    exposure = (
        judge_exposure(
            spec.canary.exposure,
            state.weight,
            spec.canary.exposure_window,
            observations,
            observing=spec.enforcement is Enforcement.OBSERVE,
        )
        if spec.canary.exposure is not None
        else None
    )
    outcome = _choose(
        spec,
        state,
        behaviour,
        guardrails,
        success,
        paused=controls.pause,
        promotion_approved=controls.promotion_approved,
        frozen=freeze.holding,
        freezing=freezing,
        window_froze=window_froze,
        exposure=exposure,
    )
    gate = judge_checks(
        spec.canary.checks,
        state.checks,
        observations,
        checks or {},
        weight=state.weight,
        moving_to=outcome.weight_next if outcome.action in _MOVES else None,
        active=state.phase not in TERMINAL_PHASES and outcome.action is not Action.ROLLBACK,
        now=now,
    )
    outcome = _with_checks(outcome, gate, state)
    errors = query_problems(observations)
    cell = f"{health} x {risk.risk}"
    why_mode = (
        f"{cell}, {lane}"
        if lane
        else f"{cell}, in the cooldown of a red episode"
        if freeze.holding is not None
        else cell
    )
    if window_froze:
        names = ", ".join(j.window.name for j in freezing)
        why_mode = f"freeze window {names}; {cell} would be {unfrozen}" + (
            f" ({lane})" if lane else ""
        )
    context = (
        *_unreachable_reason(observations),
        *stale_reasons(freshness),
        *_invalid_evidence_reasons(journeys, guardrails, success, exposure),
        *_health_reasons(health, journeys),
        *_window_reasons(windows, outcome),
        Reason(ReasonCode.RISK, f"release risk {risk.risk} ({risk.because})"),
        Reason(ReasonCode.MODE, f"mode {mode} ({why_mode}): {behaviour.summary}"),
        *((Reason(ReasonCode.HOTFIX, f"hotfix lane: {lane}"),) if lane else ()),
        *freeze.notes,
        *(
            (freeze.cooling,)
            if freeze.cooling is not None and freeze.holding not in outcome.reasons
            else ()
        ),
        *_exposure_reasons(exposure, outcome),
        *check_reasons(gate.assessments),
        *_success_reasons(spec, state, success),
    )
    return Decision(
        at=now,
        action=outcome.action,
        health=health,
        risk=risk,
        mode=mode,
        weight_current=state.weight,
        weight_next=outcome.weight_next,
        reasons=_with_errors(outcome, errors) + context,
        journeys=journeys,
        guardrails=guardrails,
        score=composite_score(journeys),
        errors=errors,
        success_metrics=success,
        freshness=freshness,
        checks=gate.assessments,
        checks_wanted=gate.wanted,
        checks_step=gate.step,
        cooldown_until=(
            freeze.memory.cooldown_until(spec.policy.freeze_cooldown) if freeze.memory else None
        ),
        windows=windows,
        window_froze=unfrozen if window_froze else None,
        exposure=exposure,
        awaits_approval=outcome.awaits_approval,
        state=GateState(
            weight=outcome.weight_next,
            phase=_next_phase(state.phase, outcome.action),
            consecutive_passes=outcome.consecutive_passes,
            guardrail_failures={g.name: g.consecutive_failures for g in guardrails},
            freeze=freeze.memory,
            checks={a.name: a.record() for a in gate.assessments},
        ),
    )


_MOVES = frozenset({Action.ADVANCE, Action.PROMOTE})


def _with_checks(outcome: _Outcome, gate: CheckGate, state: GateState) -> _Outcome:
    """The outcome once the checks due had their say: a critical one at its limit rolls
    back, any other failing, unanswered or pending one holds (a failure restarts the count of
    passes; no answer leaves it as it was)."""
    if gate.rollback:
        return _Outcome(Action.ROLLBACK, 0, 0, gate.rollback)
    if not gate.hold:
        return outcome
    passes = 0 if gate.failed else state.consecutive_passes
    if outcome.action is not Action.HOLD:
        return _hold(*gate.hold, passes=passes, weight=state.weight)
    # The gate held anyway: a failing check leads, a check without an answer (silence, as
    # often as not the same silence that held the gate) comes after the gate's own reasons.
    failed = tuple(r for r in gate.hold if r.code is ReasonCode.CHECK_FAILED)
    unanswered = tuple(r for r in gate.hold if r.code is not ReasonCode.CHECK_FAILED)
    return _hold(*failed, *outcome.reasons, *unanswered, passes=passes, weight=state.weight)


def _next_phase(phase: Phase, action: Action) -> Phase:
    return {
        Action.PROMOTE: Phase.PROMOTED,
        Action.ROLLBACK: Phase.ROLLED_BACK,
        Action.ADVANCE: Phase.PROGRESSING,
        Action.HOLD: phase,
    }[action]


def _hold(*reasons: Reason, passes: int = 0, weight: int) -> _Outcome:
    return _Outcome(Action.HOLD, weight, passes, reasons)


def _choose(
    spec: GateSpec,
    state: GateState,
    behaviour: ModeBehaviour,
    guardrails: Sequence[GuardrailAssessment],
    success: Sequence[SuccessAssessment],
    *,
    paused: Control | None = None,
    promotion_approved: bool = False,
    frozen: Reason | None = None,
    freezing: Sequence[WindowJudged] = (),
    window_froze: bool = False,
    exposure: ExposureAssessment | None = None,
) -> _Outcome:
    weight = state.weight
    if state.phase in TERMINAL_PHASES:
        message = f"gate already {state.phase}; no further traffic changes"
        return _hold(
            Reason(ReasonCode.TERMINAL, message), passes=state.consecutive_passes, weight=weight
        )

    def counts_as_critical(g: GuardrailAssessment) -> bool:
        return behaviour.all_guardrails_critical or g.severity is Severity.CRITICAL

    triggers = [g for g in guardrails if g.limit_reached and counts_as_critical(g)]
    if triggers:
        reasons = tuple(
            Reason(
                ReasonCode.ROLLBACK,
                f"rollback: guardrail {g.name} failed {g.consecutive_failures} consecutive "
                f"time(s) (failureLimit {g.failure_limit}"
                + (", counted as critical in this mode" if g.severity is Severity.MINOR else "")
                + f"): {g.finding}",
            )
            for g in triggers
        )
        return _Outcome(Action.ROLLBACK, 0, 0, reasons)

    if paused is not None:
        # Held by a person: no step and no rollback on its own (a critical guardrail still
        # rolled back above); the passes counted so far neither grow nor reset.
        return _hold(_paused_reason(paused), passes=state.consecutive_passes, weight=weight)

    failing = [g for g in guardrails if g.verdict is Verdict.FAIL]
    if failing:
        return _hold(*(_failing_reason(g, counts_as_critical(g)) for g in failing), weight=weight)

    inconclusive = [g for g in guardrails if g.verdict is Verdict.INCONCLUSIVE]
    # A canary that did not serve what its route gives it was not tried: whatever its
    # guardrails say, this evaluation neither counts as a pass nor promotes.
    unexposed = _exposure_hold(exposure) if exposure is not None and exposure.blocks else ()
    if unexposed or (inconclusive and weight > 0):
        return _hold(
            *unexposed,
            *(
                Reason(
                    ReasonCode.GUARDRAIL_INCONCLUSIVE,
                    f"hold: guardrail {g.name} is inconclusive ({g.finding})",
                )
                for g in (inconclusive if weight > 0 else ())
            ),
            weight=weight,
        )
    # Before the first step the canary serves no traffic, so its guardrails cannot be
    # measured yet; the first step is gated on customer health and risk alone.
    not_yet_measurable = tuple(
        Reason(
            ReasonCode.GUARDRAIL_INCONCLUSIVE,
            f"guardrail {g.name} not measurable before the canary takes traffic ({g.finding})",
        )
        for g in inconclusive
    )

    if behaviour.advance is AdvanceRule.NEVER:
        return _hold(
            *_mode_hold_reasons(spec, behaviour.mode, frozen, freezing, window_froze=window_froze),
            weight=weight,
        )
    factors = spec.risk.factors
    if behaviour.advance is AdvanceRule.IF_NEUTRAL_AND_REVERSIBLE and not (
        factors.customer_neutral and factors.reversible
    ):
        return _hold(
            Reason(
                ReasonCode.NOT_NEUTRAL,
                "hold: customer health is yellow and the change is not declared both "
                "customer-neutral and reversible "
                f"(customerNeutral={_flag(factors.customer_neutral)}, "
                f"reversible={_flag(factors.reversible)})",
            ),
            weight=weight,
        )

    passes = state.consecutive_passes + 1
    needed = (
        spec.policy.guarded_passes if behaviour.advance is AdvanceRule.CONSECUTIVE_PASSES else 1
    )
    if passes < needed:
        return _hold(
            Reason(
                ReasonCode.PASSES_NEEDED,
                f"hold: passing evaluation {passes} of {needed} consecutive needed at "
                f"{weight}% in {behaviour.mode} mode",
            ),
            *not_yet_measurable,
            passes=passes,
            weight=weight,
        )
    target = spec.canary.next_step(weight)
    if target is not None and target >= FULL_TRAFFIC and not_yet_measurable:
        # The first step may go on health and risk alone, but never to all traffic: a gate
        # measures its guardrails on a canary share before it sends everyone to it.
        names = ", ".join(g.name for g in inconclusive)
        return _hold(
            Reason(
                ReasonCode.GUARDRAIL_INCONCLUSIVE,
                f"hold: the next step sends all traffic to the canary, but guardrail(s) {names} "
                "were never measured; add a smaller first step to spec.canary.steps",
            ),
            weight=weight,
        )
    if target is None:
        # Safety allowed promotion; the release's value decides whether it happens now.
        passed = f"promote: the last step ({spec.canary.last_step}%) passed"
        blocking = [m for m in success if not m.allows_promotion]
        if blocking and _approvable(success, blocking):
            # Only success metrics worse than the baseline stand in the way: a person may
            # weigh the release's value against them (never against its safety, held above).
            if promotion_approved:
                names = ", ".join(m.name for m in blocking)
                because = (
                    f"{passed}; success metric(s) {names} worse than the baseline, and a "
                    "person approved the promotion"
                )
                return _Outcome(
                    Action.PROMOTE, FULL_TRAFFIC, 0, (Reason(ReasonCode.PROMOTE, because),)
                )
            return _Outcome(
                Action.HOLD,
                weight,
                passes,
                tuple(
                    Reason(ReasonCode.SUCCESS_METRIC_HOLD, m.hold_reason(approvable=True))
                    for m in blocking
                ),
                awaits_approval=Action.PROMOTE,
            )
        if blocking:
            return _hold(
                *(Reason(ReasonCode.SUCCESS_METRIC_HOLD, m.hold_reason()) for m in blocking),
                passes=passes,
                weight=weight,
            )
        return _Outcome(Action.PROMOTE, FULL_TRAFFIC, 0, (Reason(ReasonCode.PROMOTE, passed),))
    return _Outcome(
        Action.ADVANCE,
        target,
        0,
        (
            Reason(ReasonCode.ADVANCE, f"advance: {weight}% -> {target}%, evaluation passed"),
            *not_yet_measurable,
        ),
    )


def _approvable(
    success: Sequence[SuccessAssessment], blocking: Sequence[SuccessAssessment]
) -> bool:
    """Whether a person may let the last step promote past the success metrics that hold it:
    only when each is worse than the baseline on valid evidence. Immature or missing evidence
    waits for evidence, a minLift not reached for more value, and no metric's numbers may be
    impossible."""
    return not any(m.invalid_evidence for m in success) and all(
        m.verdict is Lift.WORSE for m in blocking
    )


def _paused_reason(paused: Control) -> Reason:
    at = f" at {paused.at}" if paused.at else ""
    return Reason(
        ReasonCode.PAUSED,
        f"hold: paused ({paused.said()}{at}); no step until it is resumed (canarygate resume, "
        "or remove the annotation canarygate.io/pause); a critical guardrail still rolls back",
    )


def _exposure_code(exposure: ExposureAssessment) -> ReasonCode:
    silent = exposure.state in (Exposure.SILENT, Exposure.UNKNOWN)
    return ReasonCode.EXPOSURE_SILENT if silent else ReasonCode.EXPOSURE


def _exposure_hold(exposure: ExposureAssessment) -> tuple[Reason, ...]:
    return (
        Reason(
            _exposure_code(exposure),
            f"hold: {exposure.finding}; exposure is not proven, so this evaluation neither "
            "counts as a pass nor promotes",
        ),
    )


def _exposure_reasons(exposure: ExposureAssessment | None, outcome: _Outcome) -> tuple[Reason, ...]:
    """What the canary served, unless the deciding reason already says it."""
    exposure_codes = (ReasonCode.EXPOSURE, ReasonCode.EXPOSURE_SILENT)
    if exposure is None or any(r.code in exposure_codes for r in outcome.reasons):
        return ()
    return (Reason(_exposure_code(exposure), f"exposure {exposure.state}: {exposure.finding}"),)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _failing_reason(g: GuardrailAssessment, critical: bool) -> Reason:
    if critical:
        return Reason(
            ReasonCode.GUARDRAIL_FAILED,
            f"hold: guardrail {g.name} failed ({g.finding}); failure "
            f"{g.consecutive_failures} of {g.failure_limit} before rollback",
        )
    return Reason(
        ReasonCode.GUARDRAIL_FAILED,
        f"hold: minor guardrail {g.name} failed ({g.finding})",
    )


def _mode_hold_reasons(
    spec: GateSpec,
    mode: Mode,
    cooldown: Reason | None = None,
    freezing: Sequence[WindowJudged] = (),
    *,
    window_froze: bool = False,
) -> tuple[Reason, ...]:
    """Why the mode holds: the matrix cell's reason (or the cooldown of a red episode, which
    holds a cell that would advance), then any freeze window in force; only the windows when
    they alone froze a mode that would advance."""
    frozen = tuple(
        Reason(ReasonCode.WINDOW, f"hold: {j.describe()} applies; steps are frozen")
        for j in freezing
    )
    if window_froze:
        return frozen
    if cooldown is not None:  # the cooldown after a red episode (core.incidents)
        return (cooldown, *frozen)
    return (*_cell_hold_reasons(spec, mode), *frozen)


def _cell_hold_reasons(spec: GateSpec, mode: Mode) -> tuple[Reason, ...]:
    if mode is Mode.HOLD:
        return (
            Reason(
                ReasonCode.HOLD,
                "hold: customer health is unknown; silence never advances, promotes or rolls back",
            ),
        )
    if mode is Mode.FREEZE:
        return (Reason(ReasonCode.HOLD, "hold: customer health is red; traffic is frozen"),)
    if mode is Mode.DELAY:
        held = Reason(
            ReasonCode.HOLD, "hold: customer health is yellow and release risk is high; delaying"
        )
        if spec.canary.cohort:
            return (
                held,
                Reason(ReasonCode.COHORT, f"canary stays confined to cohort {spec.canary.cohort}"),
            )
        return (held,)
    return (Reason(ReasonCode.HOLD, f"hold: mode {mode} never advances"),)


def _window_reasons(windows: Sequence[WindowJudged], outcome: _Outcome) -> tuple[Reason, ...]:
    """Each window in force, what it does, and until when; a freeze window that is already
    the deciding reason is not said twice."""
    said = any(r.code is ReasonCode.WINDOW for r in outcome.reasons)
    effects = {
        WindowEffect.FREEZE: "steps are frozen",
        WindowEffect.HIGH_RISK: "release risk is raised to high",
    }
    return tuple(
        Reason(ReasonCode.WINDOW, f"{j.describe()} applies: {effects[j.window.effect]}")
        for j in windows
        if j.in_force and not (said and j.window.effect is WindowEffect.FREEZE)
    )


def _with_errors(outcome: _Outcome, errors: Sequence[QueryProblem]) -> tuple[Reason, ...]:
    """A refused query is the reason to name first when the gate holds: the hold will not end
    by itself, someone must fix the query. After a rollback it stays second."""
    if not errors:
        return outcome.reasons
    shown = "; ".join(problem.describe() for problem in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    error = Reason(
        ReasonCode.QUERY_ERROR,
        f"configuration error: Prometheus refused {len(errors)} quer"
        f"{'y' if len(errors) == 1 else 'ies'} of this gate; fix the spec: {shown}{more}",
    )
    if outcome.action is Action.HOLD:
        return (error, *outcome.reasons)
    return (*outcome.reasons, error)


def _invalid_evidence_reasons(
    journeys: Sequence[JourneyAssessment],
    guardrails: Sequence[GuardrailAssessment],
    success: Sequence[SuccessAssessment],
    exposure: ExposureAssessment | None = None,
) -> tuple[Reason, ...]:
    """Impossible numbers are named once, up front in the evidence, as invalid evidence."""
    found = [f"journey {j.name} {problem}" for j in journeys for problem in j.invalid_evidence]
    if exposure is not None and exposure.invalid_evidence:
        found.append(f"exposure: {exposure.finding}")
    found += [f"guardrail {g.name}: {g.finding}" for g in guardrails if g.invalid_evidence]
    found += [f"success metric {m.name}: {m.finding}" for m in success if m.invalid_evidence]
    return tuple(
        Reason(ReasonCode.INVALID_EVIDENCE, f"invalid evidence, treated as silence: {text}")
        for text in found
    )


def _unreachable_reason(observations: Observations) -> tuple[Reason, ...]:
    """One up-front reason when Prometheus could not be asked, instead of one per query."""
    for sample in observations.values():
        if isinstance(sample, Missing) and sample.kind is MissingKind.UNREACHABLE:
            return (Reason(ReasonCode.PROMETHEUS_UNAVAILABLE, sample.detail or "unreachable"),)
    return ()


def _health_reasons(health: Health, journeys: Sequence[JourneyAssessment]) -> tuple[Reason, ...]:
    reasons = [Reason(ReasonCode.HEALTH, f"customer health {health}")]
    for journey in journeys:
        scope = "" if journey.critical else " (non-critical: counts at most as yellow)"
        level = f"{journey.overall} overall" if journey.segmented else str(journey.health)
        for finding in journey.findings:
            reasons.append(
                Reason(ReasonCode.JOURNEY, f"journey {journey.name} is {level}{scope}: {finding}")
            )
        reasons += _segment_reasons(journey, scope)
    return tuple(reasons)


SEGMENTS_NAMED = 3  # per journey, in the reasons; the JSON output lists every judged segment


def _segment_reasons(journey: JourneyAssessment, scope: str) -> list[Reason]:
    """`journey checkout red in region eu-west (burn 21 over 1h), green overall: ...`, for
    the worst segments that are not green."""
    shown = [s for s in journey.segments if s.health is not Health.GREEN]
    reasons = []
    for segment in shown[:SEGMENTS_NAMED]:
        objective = (
            f", objective {segment.objective_percent:g}%"
            if segment.objective_percent != journey.objective_percent
            else ""
        )
        details = "; ".join(segment.findings)
        reasons.append(
            Reason(
                ReasonCode.SEGMENT,
                f"journey {journey.name} {segment.health} in {segment.name} "
                f"({segment.summary}{objective}), {journey.overall} overall{scope}: {details}",
            )
        )
    if len(shown) > SEGMENTS_NAMED:
        reasons.append(
            Reason(
                ReasonCode.SEGMENT,
                f"journey {journey.name}: {len(shown) - SEGMENTS_NAMED} more segment(s) not green",
            )
        )
    return reasons


def _success_reasons(
    spec: GateSpec, state: GateState, success: Sequence[SuccessAssessment]
) -> tuple[Reason, ...]:
    """Each success metric's lift and sample sizes, whatever the action."""
    before_last = spec.canary.next_step(state.weight) is not None
    note = "; it decides only whether the last step promotes" if before_last else ""
    return tuple(
        Reason(ReasonCode.SUCCESS_METRIC, f"success metric {m.name} {m.verdict}: {m.finding}{note}")
        for m in success
    )
