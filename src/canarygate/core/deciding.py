"""`decide`: one evaluation of a gate, from observations and remembered state to a Decision.

Pure: the caller supplies the clock and the measurements and persists the returned state.
The order of checks is the order of precedence: a finished gate stays finished; a critical
guardrail at its failure limit rolls back in every mode; any failing or inconclusive
guardrail holds; then the matrix mode says whether a passing evaluation may move traffic;
last, success metrics say whether the last step promotes (never more than that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

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
    Health,
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


def decide(
    spec: GateSpec,
    state: GateState,
    observations: Observations,
    now: datetime,
    clocks: WallClocks | None = None,
) -> Decision:
    """`clocks`: what the wall clocks of the zones the gate's windows name showed at `now`
    (the shell reads them); without them a window counts as in force."""
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
    freezing = in_force(windows, WindowEffect.FREEZE)
    mode = cell_mode
    if freezing and MODE_BEHAVIOURS[cell_mode].advance is not AdvanceRule.NEVER:
        mode = Mode.FREEZE  # a freeze window stops every step, as red health does
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
            spec.canary.exposure, state.weight, spec.canary.exposure_window, observations
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
        freezing,
        window_froze=mode is not cell_mode,
        exposure=exposure,
    )
    errors = query_problems(observations)
    cell = f"{health} x {risk.risk}"
    if mode is not cell_mode:
        names = ", ".join(j.window.name for j in freezing)
        cell = f"freeze window {names}; {cell} would be {cell_mode}"
    context = (
        *_unreachable_reason(observations),
        *stale_reasons(freshness),
        *_invalid_evidence_reasons(journeys, guardrails, success, exposure),
        *_health_reasons(health, journeys),
        *_window_reasons(windows, outcome),
        Reason(ReasonCode.RISK, f"release risk {risk.risk} ({risk.because})"),
        Reason(ReasonCode.MODE, f"mode {mode} ({cell}): {behaviour.summary}"),
        *_exposure_reasons(exposure, outcome),
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
        windows=windows,
        exposure=exposure,
        state=GateState(
            weight=outcome.weight_next,
            phase=_next_phase(state.phase, outcome.action),
            consecutive_passes=outcome.consecutive_passes,
            guardrail_failures={g.name: g.consecutive_failures for g in guardrails},
        ),
    )


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
    freezing: Sequence[WindowJudged] = (),
    *,
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
            *_mode_hold_reasons(spec, behaviour.mode, freezing, window_froze=window_froze),
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
        blocking = [m for m in success if not m.allows_promotion]
        if blocking:
            return _hold(
                *(Reason(ReasonCode.SUCCESS_METRIC_HOLD, m.hold_reason()) for m in blocking),
                passes=passes,
                weight=weight,
            )
        return _Outcome(
            Action.PROMOTE,
            FULL_TRAFFIC,
            0,
            (
                Reason(
                    ReasonCode.PROMOTE,
                    f"promote: the last step ({spec.canary.last_step}%) passed",
                ),
            ),
        )
    return _Outcome(
        Action.ADVANCE,
        target,
        0,
        (
            Reason(ReasonCode.ADVANCE, f"advance: {weight}% -> {target}%, evaluation passed"),
            *not_yet_measurable,
        ),
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
    freezing: Sequence[WindowJudged] = (),
    *,
    window_froze: bool = False,
) -> tuple[Reason, ...]:
    """Why the mode holds: the matrix cell's reason, then any freeze window in force; only
    the windows when they alone froze a cell that would advance."""
    frozen = tuple(
        Reason(ReasonCode.WINDOW, f"hold: {j.describe()} applies; steps are frozen")
        for j in freezing
    )
    if window_froze:
        return frozen
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
