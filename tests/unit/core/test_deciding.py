"""decide(): every matrix cell, guardrail precedence, steps and promotion."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    MatrixPolicy,
    Missing,
    MissingKind,
    Mode,
    Phase,
    QueryKey,
    Risk,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    Role,
    Severity,
    Verdict,
    decide,
)
from canarygate.core.decisions import Decision, ReasonCode

from .builders import gate, guardrail_observations, healthy, journey, journey_observations, silence

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
HEALTH_RATIOS: dict[Health, float | dict[str, float]] = {
    Health.GREEN: 0.0,
    Health.YELLOW: {"1d": 0.003, "2h": 0.003},
    Health.RED: {"1h": 0.02, "5m": 0.02},
}


def spec_with(risk: Risk, *, neutral: bool = False, **kwargs: object) -> GateSpec:
    factors = RiskFactors(customer_neutral=neutral, reversible=neutral)
    return gate(journey(), risk=RiskSpec(RiskLevel(risk.value), factors), **kwargs)  # type: ignore[arg-type]


def run(spec: GateSpec, health: Health, weight: int = 10, **state: object) -> Decision:
    if health is Health.UNKNOWN:
        observations = silence(spec, MissingKind.NO_DATA)
    else:
        observations = journey_observations(spec, "checkout", HEALTH_RATIOS[health])
    return decide(spec, GateState(weight=weight, **state), observations, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("health", "risk", "neutral", "mode", "action", "next_weight"),
    [
        (Health.GREEN, Risk.LOW, False, Mode.PROCEED, Action.ADVANCE, 25),
        (Health.GREEN, Risk.HIGH, False, Mode.GUARDED, Action.HOLD, 10),
        (Health.YELLOW, Risk.LOW, False, Mode.NEUTRAL_ONLY, Action.HOLD, 10),
        (Health.YELLOW, Risk.LOW, True, Mode.NEUTRAL_ONLY, Action.ADVANCE, 25),
        (Health.YELLOW, Risk.HIGH, True, Mode.DELAY, Action.HOLD, 10),
        (Health.RED, Risk.LOW, True, Mode.FREEZE, Action.HOLD, 10),
        (Health.RED, Risk.HIGH, False, Mode.FREEZE, Action.HOLD, 10),
        (Health.UNKNOWN, Risk.LOW, True, Mode.HOLD, Action.HOLD, 10),
        (Health.UNKNOWN, Risk.HIGH, False, Mode.HOLD, Action.HOLD, 10),
    ],
)
def test_every_matrix_cell(
    health: Health, risk: Risk, neutral: bool, mode: Mode, action: Action, next_weight: int
) -> None:
    decision = run(spec_with(risk, neutral=neutral), health)
    assert (decision.health, decision.risk.risk, decision.mode) == (health, risk, mode)
    assert (decision.action, decision.weight_next) == (action, next_weight)
    assert decision.reasons[0].message.startswith(str(action))


def test_guarded_step_needs_two_consecutive_passes() -> None:
    spec = spec_with(Risk.HIGH)
    first = run(spec, Health.GREEN)
    assert first.action is Action.HOLD
    assert first.state.consecutive_passes == 1
    assert first.reasons[0].code is ReasonCode.PASSES_NEEDED
    second = decide(spec, first.state, healthy(spec), NOW)
    assert (second.action, second.weight_next, second.state.consecutive_passes) == (
        Action.ADVANCE, 25, 0,
    )  # fmt: skip


def test_a_non_passing_evaluation_resets_the_guarded_count() -> None:
    spec = spec_with(Risk.HIGH)
    decision = run(spec, Health.UNKNOWN, consecutive_passes=1)
    assert decision.state.consecutive_passes == 0


def test_promote_only_after_the_last_step() -> None:
    spec = spec_with(Risk.LOW)
    assert run(spec, Health.GREEN, weight=50).action is Action.ADVANCE
    promoted = run(spec, Health.GREEN, weight=100)
    assert (promoted.action, promoted.weight_next, promoted.state.phase) == (
        Action.PROMOTE, 100, Phase.PROMOTED,
    )  # fmt: skip


def test_first_step_from_zero() -> None:
    decision = run(spec_with(Risk.LOW), Health.GREEN, weight=0)
    assert (decision.action, decision.weight_next) == (Action.ADVANCE, 5)


def test_finished_gate_does_nothing() -> None:
    decision = run(spec_with(Risk.LOW), Health.GREEN, weight=100, phase=Phase.PROMOTED)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.TERMINAL


CRITICAL = GuardrailSpec(name="errors", canary="c", max=0.01, failure_limit=2)
MINOR = GuardrailSpec(name="latency", canary="c", max=0.5, severity=Severity.MINOR)
SAMPLED = GuardrailSpec(name="sampled", canary="c", max=0.01, samples="n", min_samples=100)


def decide_with(
    guardrail: GuardrailSpec,
    canary: float | Missing,
    *,
    health: Health = Health.GREEN,
    risk: Risk = Risk.LOW,
    weight: int = 25,
    failures: int = 0,
    samples: float | None = None,
) -> Decision:
    spec = spec_with(risk, guardrails=(guardrail,))
    observations = (
        silence(spec, MissingKind.NO_DATA)
        if health is Health.UNKNOWN
        else journey_observations(spec, "checkout", HEALTH_RATIOS[health])
    )
    observations.update(guardrail_observations(guardrail.name, canary, samples=samples))
    state = GateState(weight=weight, guardrail_failures={guardrail.name: failures})
    return decide(spec, state, observations, NOW)


def test_critical_guardrail_holds_below_its_failure_limit_then_rolls_back() -> None:
    first = decide_with(CRITICAL, 0.5)
    assert first.action is Action.HOLD
    assert "failure 1 of 2" in first.reasons[0].message
    second = decide_with(CRITICAL, 0.5, failures=first.state.guardrail_failures["errors"])
    assert (second.action, second.weight_next, second.state.phase) == (
        Action.ROLLBACK, 0, Phase.ROLLED_BACK,
    )  # fmt: skip


@pytest.mark.parametrize("health", list(Health))
def test_critical_guardrail_at_its_limit_rolls_back_in_every_mode(health: Health) -> None:
    assert decide_with(CRITICAL, 0.5, health=health, failures=1).action is Action.ROLLBACK


def test_minor_guardrail_holds_in_proceed_mode() -> None:
    decision = decide_with(MINOR, 0.9)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.GUARDRAIL_FAILED


@pytest.mark.parametrize(
    ("health", "risk"),
    [(Health.GREEN, Risk.HIGH), (Health.YELLOW, Risk.HIGH), (Health.RED, Risk.LOW)],
    ids=["guarded", "delay", "freeze"],
)
def test_minor_guardrail_counts_as_critical_when_the_mode_says_so(
    health: Health, risk: Risk
) -> None:
    assert decide_with(MINOR, 0.9, health=health, risk=risk).action is Action.ROLLBACK


def test_inconclusive_guardrail_holds_and_never_promotes() -> None:
    assert decide_with(SAMPLED, 0.001, samples=12).action is Action.HOLD
    at_last_step = decide_with(SAMPLED, 0.001, samples=12, weight=100)
    assert at_last_step.action is Action.HOLD
    assert at_last_step.reasons[0].code is ReasonCode.GUARDRAIL_INCONCLUSIVE


def test_unmeasurable_guardrail_does_not_block_the_first_step() -> None:
    decision = decide_with(SAMPLED, Missing(MissingKind.NO_DATA), weight=0)
    assert (decision.action, decision.weight_next) == (Action.ADVANCE, 5)
    assert any(r.code is ReasonCode.GUARDRAIL_INCONCLUSIVE for r in decision.reasons)


def test_silence_everywhere_holds_without_rollback() -> None:
    spec = spec_with(Risk.LOW, guardrails=(CRITICAL, MINOR))
    for kind in MissingKind:
        state = GateState(weight=50, guardrail_failures={"errors": 1})
        decision = decide(spec, state, silence(spec, kind), NOW)
        assert decision.action is Action.HOLD
        assert decision.health is Health.UNKNOWN
        assert decision.state.guardrail_failures["errors"] == 1


def test_unreachable_prometheus_is_the_first_context_reason() -> None:
    spec = spec_with(Risk.LOW)
    decision = decide(spec, GateState(weight=5), silence(spec), NOW)
    assert ReasonCode.PROMETHEUS_UNAVAILABLE in [r.code for r in decision.reasons]


def test_matrix_override_applies_but_unknown_and_red_never_advance() -> None:
    policy = MatrixPolicy(
        cells={
            (Health.YELLOW, Risk.LOW): Mode.PROCEED,
            (Health.RED, Risk.LOW): Mode.PROCEED,
        }
    )
    spec = gate(journey(), risk=RiskSpec(RiskLevel.LOW), policy=policy)
    assert run(spec, Health.YELLOW).action is Action.ADVANCE
    assert run(spec, Health.RED).mode is Mode.FREEZE
    assert run(spec, Health.UNKNOWN).action is Action.HOLD


def test_non_critical_journey_red_makes_health_yellow() -> None:
    spec = gate(
        journey("checkout"), journey("search", critical=False), risk=RiskSpec(RiskLevel.LOW)
    )
    observations = journey_observations(spec, "checkout", 0.0)
    observations.update(journey_observations(spec, "search", HEALTH_RATIOS[Health.RED]))
    decision = decide(spec, GateState(weight=10), observations, NOW)
    assert decision.health is Health.YELLOW
    assert [j.health for j in decision.journeys] == [Health.GREEN, Health.RED]


def test_the_first_step_never_goes_to_full_traffic_with_unmeasured_guardrails() -> None:
    spec = gate(steps=(100,), guardrails=(GuardrailSpec("errors", "c", max=0.01),))
    observed = journey_observations(spec, "checkout", 0.0)
    decision = decide(spec, GateState(weight=0), observed, NOW)
    assert decision.action is Action.HOLD
    assert decision.weight_next == 0
    assert "never measured" in decision.reasons[0].message


def test_a_refused_query_is_an_error_named_first_and_holds() -> None:
    spec = gate()
    observed = journey_observations(spec, "checkout", 0.0)
    key = next(k for k in observed if k.role is Role.GOOD)
    observed[key] = Missing(MissingKind.QUERY_ERROR, "parse error: unexpected ')'")
    decision = decide(spec, GateState(weight=25), observed, NOW)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.QUERY_ERROR
    assert "unexpected ')'" in decision.reasons[0].message
    assert [problem.key for problem in decision.errors] == [key]


def test_good_over_total_during_an_incident_is_not_green() -> None:
    spec = gate()
    # Swapped queries: "good" is the total and "total" the good events, burn rate 30.
    observed = {
        k: (1000.0 if k.role is Role.GOOD else 970.0)
        for k in journey_observations(spec, "checkout")
    }
    decision = decide(spec, GateState(weight=25), observed, NOW)
    assert decision.health is Health.UNKNOWN
    assert decision.action is Action.HOLD
    assert any(r.code is ReasonCode.INVALID_EVIDENCE for r in decision.reasons)


def test_a_negative_guardrail_value_is_inconclusive_not_a_pass() -> None:
    spec = gate(guardrails=(GuardrailSpec("errors", "c", max=0.01),))
    observed = journey_observations(spec, "checkout", 0.0)
    observed[QueryKey("errors", Role.CANARY)] = -1.0
    decision = decide(spec, GateState(weight=25), observed, NOW)
    assert decision.guardrails[0].verdict is Verdict.INCONCLUSIVE
    assert decision.guardrails[0].invalid_evidence
    assert decision.action is Action.HOLD


def test_at_weight_0_a_failing_canary_reading_is_not_this_canarys_failure() -> None:
    # A new revision starts at 0 %: the window may still hold the last revision's errors.
    spec = gate(guardrails=(GuardrailSpec("errors", "c", max=0.01),))
    observed = journey_observations(spec, "checkout", 0.0)
    observed[QueryKey("errors", Role.CANARY)] = 0.5
    decision = decide(spec, GateState(weight=0), observed, NOW)
    assert decision.action is Action.ADVANCE
    judged = decision.guardrails[0]
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert judged.consecutive_failures == 0
    assert "no traffic yet" in judged.finding
