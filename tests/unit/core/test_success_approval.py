"""A last step held only by success metrics worse than the baseline waits for a person: the
promotion's approval lets it go, whatever the gate's approval policy. An approval weighs the
release's value, never its safety: a guardrail, red or unknown health, silence, invalid
evidence, immature evidence or a minLift not reached still hold."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    Decision,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    Lift,
    MissingKind,
    Observation,
    QueryKey,
    Role,
    SuccessMetricSpec,
    decide,
)
from canarygate.core.approval import ApprovalPolicy, approval_key, approval_needed
from canarygate.core.controls import NO_CONTROLS, Controls
from canarygate.core.decisions import ReasonCode
from canarygate.core.explaining import explain
from canarygate.core.vocabulary import Risk

from .builders import gate, guardrail_observations, healthy, journey_observations, silence
from .segment_builders import success_metric, success_observations

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
LAST = 100
APPROVED = Controls(promotion_approved=True)
WORSE = success_observations("conversion", 0.045, 0.05)  # lift -10 %, margin 1 %


def spec_with(*metrics: SuccessMetricSpec, **kwargs: object) -> GateSpec:
    base = gate(**kwargs)  # type: ignore[arg-type]
    return replace(base, canary=replace(base.canary, success_metrics=metrics))


def run(
    spec: GateSpec,
    observed: dict[QueryKey, Observation],
    controls: Controls = NO_CONTROLS,
    weight: int = LAST,
    base: dict[QueryKey, Observation] | None = None,
) -> Decision:
    measured = healthy(spec) if base is None else base
    return decide(spec, GateState(weight=weight), {**measured, **observed}, NOW, controls=controls)


def test_a_worse_metric_at_the_last_step_waits_for_the_promotion_approval() -> None:
    decision = run(spec_with(success_metric()), WORSE)
    assert (decision.action, decision.weight_next) == (Action.HOLD, LAST)
    assert decision.awaits_approval is Action.PROMOTE
    lead = decision.reasons[0]
    assert lead.code is ReasonCode.SUCCESS_METRIC_HOLD
    assert "success metric conversion is worse than the baseline" in lead.message
    assert "lift -10.0% (canary 0.045 over 5000 samples, baseline 0.05 over 20000" in lead.message
    assert "a person may approve the promotion (canarygate approve" in lead.message
    # The key it waits for is the promotion's, whatever the approval policy says.
    key = approval_key("v2", decision.awaits_approval, LAST)
    assert key == "v2/promote"
    assert approval_needed(ApprovalPolicy(), Action.PROMOTE, Risk.LOW, "v2", LAST, ()) is None


def test_approved_it_promotes_and_says_a_person_approved() -> None:
    decision = run(spec_with(success_metric()), WORSE, APPROVED)
    assert (decision.action, decision.weight_next) == (Action.PROMOTE, LAST)
    assert decision.awaits_approval is None
    assert decision.reasons[0].code is ReasonCode.PROMOTE
    assert decision.reasons[0].message == (
        "promote: the last step (100%) passed; success metric(s) conversion worse than the "
        "baseline, and a person approved the promotion"
    )
    assert decision.success_metrics[0].verdict is Lift.WORSE  # still reported as it is


@pytest.mark.parametrize("canary", [0.055, 0.0502, 0.0498])
def test_better_or_flat_promotes_without_an_approval(canary: float) -> None:
    decision = run(spec_with(success_metric()), success_observations("conversion", canary, 0.05))
    assert decision.action is Action.PROMOTE
    assert decision.awaits_approval is None
    assert decision.reasons[0].message == "promote: the last step (100%) passed"


def test_an_approval_never_overrides_a_failing_guardrail() -> None:
    guardrail = GuardrailSpec("errors", "c", max=0.01, failure_limit=3)
    spec = spec_with(success_metric(), guardrails=(guardrail,))
    failing = {**WORSE, **guardrail_observations("errors", 0.05)}
    for controls in (NO_CONTROLS, APPROVED):
        decision = run(spec, failing, controls)
        assert decision.action is Action.HOLD
        assert decision.reasons[0].code is ReasonCode.GUARDRAIL_FAILED
        assert decision.awaits_approval is None
    # At its failure limit a critical guardrail rolls back, approved or not.
    at_limit = decide(
        spec,
        GateState(weight=LAST, guardrail_failures={"errors": 2}),
        {**healthy(spec), **failing},
        NOW,
        controls=APPROVED,
    )
    assert at_limit.action is Action.ROLLBACK


def test_an_approval_never_overrides_red_health() -> None:
    spec = spec_with(success_metric())
    red = journey_observations(spec, "checkout", {"1h": 0.02, "5m": 0.02})
    decision = run(spec, WORSE, APPROVED, base=red)
    assert decision.health is Health.RED
    assert decision.action is Action.HOLD
    assert decision.awaits_approval is None


@pytest.mark.parametrize("kind", [MissingKind.UNREACHABLE, MissingKind.NO_DATA])
def test_an_approval_never_promotes_silence(kind: MissingKind) -> None:
    spec = spec_with(success_metric())
    decision = run(spec, WORSE, APPROVED, base=silence(spec, kind))
    assert decision.health is Health.UNKNOWN
    assert decision.action is Action.HOLD
    assert decision.awaits_approval is None


def test_an_approval_never_promotes_a_silent_guardrail() -> None:
    guardrail = GuardrailSpec("errors", "c", max=0.01)
    spec = spec_with(success_metric(), guardrails=(guardrail,))
    decision = run(spec, WORSE, APPROVED)  # the guardrail's query answered nothing
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.GUARDRAIL_INCONCLUSIVE
    assert decision.awaits_approval is None


def test_immature_or_invalid_evidence_and_min_lift_are_not_for_a_person_to_approve() -> None:
    spec = spec_with(success_metric())
    immature = success_observations("conversion", 0.04, 0.05, samples=300.0)
    invalid = {**WORSE, QueryKey("conversion", Role.SUCCESS_BASELINE_SAMPLES): -1.0}
    for observed in (immature, invalid):
        for controls in (NO_CONTROLS, APPROVED):
            decision = run(spec, observed, controls)
            assert decision.action is Action.HOLD
            assert decision.awaits_approval is None
            assert "a person may approve" not in decision.reasons[0].message
    wanting = spec_with(success_metric(min_lift=0.05))
    flat = success_observations("conversion", 0.0502, 0.05)
    assert run(wanting, flat, APPROVED).action is Action.HOLD
    assert run(wanting, flat).awaits_approval is None


def test_a_worse_metric_with_an_immature_one_waits_for_evidence_not_a_person() -> None:
    spec = spec_with(success_metric(), success_metric("activation"))
    observed = {**WORSE, **success_observations("activation", 0.3, 0.3, samples=10.0)}
    decision = run(spec, observed, APPROVED)
    assert decision.action is Action.HOLD
    assert decision.awaits_approval is None
    assert [r.code for r in decision.reasons[:2]] == [ReasonCode.SUCCESS_METRIC_HOLD] * 2


def test_before_the_last_step_nothing_waits_for_a_person() -> None:
    spec = spec_with(success_metric())
    decision = run(spec, success_observations("conversion", 0.04, 0.05), weight=25)
    assert (decision.action, decision.weight_next) == (Action.ADVANCE, 50)
    assert decision.awaits_approval is None


def test_explain_says_the_promotion_waits_for_a_person() -> None:
    spec = spec_with(success_metric())
    lines = explain(spec, run(spec, WORSE))
    assert lines[0].startswith("decided hold (100% -> 100%) by precedence rule 8")
    assert any(
        line.startswith("  at the last step: holds promotion until a person") for line in lines
    )
    approved = explain(spec, run(spec, WORSE, APPROVED))
    assert approved[0].startswith("decided promote (100% -> 100%) by precedence rule 8")
    assert "  at the last step: worse, and a person approved the promotion" in approved
