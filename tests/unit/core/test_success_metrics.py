"""Success metrics decide only whether the last step promotes: better or flat promotes, worse
beyond the margin holds with the lift and sample sizes; they never roll back and never
override a guardrail or the matrix; immature evidence never blocks ramping."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    Decision,
    Direction,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    Lift,
    Observation,
    QueryKey,
    Role,
    SuccessMetricSpec,
    decide,
)
from canarygate.core.decisions import ReasonCode
from canarygate.core.success import judge_success_metric

from .builders import gate, guardrail_observations, healthy, journey_observations
from .segment_builders import success_metric, success_observations

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
LAST = 100  # the last step of the builders' gates


def spec_with(*metrics: SuccessMetricSpec, **kwargs: object) -> GateSpec:
    base = gate(**kwargs)  # type: ignore[arg-type]
    return replace(base, canary=replace(base.canary, success_metrics=metrics))


def run(spec: GateSpec, observed: dict[QueryKey, Observation], weight: int = LAST) -> Decision:
    return decide(spec, GateState(weight=weight), {**healthy(spec), **observed}, NOW)


@pytest.mark.parametrize(
    ("canary", "verdict", "action"),
    [
        (0.055, Lift.BETTER, Action.PROMOTE),
        (0.0502, Lift.FLAT, Action.PROMOTE),
        (0.0498, Lift.FLAT, Action.PROMOTE),  # 0.4 % worse: within the 1 % margin
        (0.045, Lift.WORSE, Action.HOLD),
    ],
)
def test_at_the_last_step_the_lift_decides_how_promotion_goes(
    canary: float, verdict: Lift, action: Action
) -> None:
    spec = spec_with(success_metric())
    decision = run(spec, success_observations("conversion", canary, 0.05))
    (metric,) = decision.success_metrics
    assert metric.verdict is verdict
    assert metric.lift == pytest.approx((canary - 0.05) / 0.05)
    assert decision.action is action
    if action is Action.HOLD:
        assert decision.weight_next == LAST
        assert decision.reasons[0].code is ReasonCode.SUCCESS_METRIC_HOLD
        assert decision.reasons[0].message == (
            "hold: success metric conversion is worse than the baseline beyond the margin of "
            "1.0% (lift -10.0% (canary 0.045 over 5000 samples, baseline 0.05 over 20000 "
            "samples; higher is better)); the canary keeps its traffic, a success metric never "
            "rolls back; a person may approve the promotion (canarygate approve, or the "
            "annotation canarygate.io/approve: <revision>/promote)"
        )
        assert decision.awaits_approval is Action.PROMOTE
    else:
        assert decision.awaits_approval is None


def test_before_the_last_step_a_worse_metric_does_not_hold() -> None:
    spec = spec_with(success_metric())
    decision = run(spec, success_observations("conversion", 0.04, 0.05), weight=25)
    assert (decision.action, decision.weight_next) == (Action.ADVANCE, 50)
    note = next(r.message for r in decision.reasons if r.code is ReasonCode.SUCCESS_METRIC)
    assert note.startswith("success metric conversion worse: lift -20.0%")
    assert note.endswith("it decides only whether the last step promotes")


def test_immature_evidence_holds_only_the_last_step() -> None:
    spec = spec_with(success_metric())
    sparse = success_observations("conversion", 0.06, 0.05, samples=300.0)
    ramping = run(spec, sparse, weight=25)
    assert ramping.action is Action.ADVANCE
    last = run(spec, sparse)
    assert last.action is Action.HOLD
    assert last.success_metrics[0].verdict is Lift.INCONCLUSIVE
    assert "immature: 300 canary samples (need 1000)" in last.reasons[0].message


def test_a_lower_is_better_metric() -> None:
    spec = spec_with(success_metric("checkout-seconds", direction=Direction.LOWER))
    faster = run(spec, success_observations("checkout-seconds", 1.8, 2.0))
    slower = run(spec, success_observations("checkout-seconds", 2.2, 2.0))
    assert faster.success_metrics[0].lift == pytest.approx(0.1)
    assert (faster.action, slower.action) == (Action.PROMOTE, Action.HOLD)


def test_min_lift_asks_for_value_not_only_safety() -> None:
    spec = spec_with(success_metric(min_lift=0.05))
    flat = run(spec, success_observations("conversion", 0.0502, 0.05))
    better = run(spec, success_observations("conversion", 0.055, 0.05))
    assert flat.action is Action.HOLD
    assert "lifts less than minLift 5.0%" in flat.reasons[0].message
    assert better.action is Action.PROMOTE


def test_a_zero_baseline_is_flat_against_zero_and_inconclusive_otherwise() -> None:
    metric = success_metric()
    flat = judge_success_metric(metric, success_observations("conversion", 0.0, 0.0))
    unknown = judge_success_metric(metric, success_observations("conversion", 0.01, 0.0))
    assert (flat.verdict, flat.lift) == (Lift.FLAT, 0.0)
    assert unknown.verdict is Lift.INCONCLUSIVE


def test_a_negative_sample_count_is_invalid_evidence() -> None:
    judged = judge_success_metric(
        success_metric(), success_observations("conversion", 0.06, 0.05, samples=-5.0)
    )
    assert judged.verdict is Lift.INCONCLUSIVE
    assert judged.invalid_evidence


@pytest.mark.parametrize("samples", [-5.0, float("nan")], ids=["negative", "nan"])
def test_a_declared_sample_count_is_evidence_without_a_minimum_too(samples: float) -> None:
    """Sample queries declared without minSamples: an impossible or unanswered count is
    silence, never a better metric that lets the last step promote."""
    metric = success_metric(min_samples=None)
    judged = judge_success_metric(
        metric, success_observations("conversion", 0.06, 0.05, samples=samples)
    )
    assert judged.verdict is Lift.INCONCLUSIVE
    assert not judged.allows_promotion
    last = run(spec_with(metric), success_observations("conversion", 0.06, 0.05, samples=samples))
    assert last.action is Action.HOLD


def test_a_better_metric_never_overrides_a_failing_guardrail() -> None:
    guardrail = GuardrailSpec("errors", "c", max=0.01)
    spec = spec_with(success_metric(), guardrails=(guardrail,))
    observed = {
        **success_observations("conversion", 0.09, 0.05),
        **guardrail_observations("errors", 0.05),
    }
    assert run(spec, observed).action is Action.ROLLBACK


def test_a_better_metric_never_overrides_the_matrix() -> None:
    spec = spec_with(success_metric())
    observed: dict[QueryKey, Observation] = {
        **journey_observations(spec, "checkout", {"1h": 0.02, "5m": 0.02}),
        **success_observations("conversion", 0.09, 0.05),
    }
    decision = decide(spec, GateState(weight=LAST), observed, NOW)
    assert decision.health is Health.RED
    assert decision.action is Action.HOLD


def test_a_worse_metric_never_rolls_back() -> None:
    spec = spec_with(success_metric())
    decision = run(spec, success_observations("conversion", 0.001, 0.05))
    assert decision.action is Action.HOLD


def test_a_success_metric_and_a_guardrail_may_share_a_name() -> None:
    guardrail = GuardrailSpec("conversion", "c", max=0.01)
    spec = spec_with(success_metric(), guardrails=(guardrail,))
    observed = {
        **success_observations("conversion", 0.06, 0.05),
        **guardrail_observations("conversion", 0.001),
    }
    decision = run(spec, observed)
    assert decision.guardrails[0].canary == 0.001
    assert decision.success_metrics[0].canary == 0.06
    assert decision.action is Action.PROMOTE


def test_silence_holds_the_last_step() -> None:
    spec = spec_with(success_metric())
    decision = run(spec, {QueryKey("conversion", Role.SUCCESS_BASELINE): 0.05})
    assert decision.action is Action.HOLD
    assert decision.success_metrics[0].verdict is Lift.INCONCLUSIVE
