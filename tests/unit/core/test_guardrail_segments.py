"""Segmented guardrails: canary against baseline per tier, failing when any tier with enough
samples fails; tiers with too few samples neither pass nor fail; silence never passes."""

from __future__ import annotations

from datetime import UTC, datetime

from canarygate.core import (
    Action,
    GateSpec,
    GateState,
    Missing,
    MissingKind,
    QueryKey,
    Role,
    Segmented,
    Severity,
    Verdict,
    decide,
)
from canarygate.core.guardrails import judge_guardrail

from .builders import gate, healthy
from .segment_builders import segmented_guardrail, tier_observations

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
# (canary error ratio, baseline error ratio, canary samples) per tier.
FINE = (0.001, 0.001, 5000.0)


def spec_with(**kwargs: object) -> GateSpec:
    return gate(guardrails=(segmented_guardrail("errors", **kwargs),))


def test_a_canary_failing_for_one_tier_only_rolls_back() -> None:
    spec = spec_with()
    tiers = {"free": FINE, "pro": FINE, "enterprise": (0.08, 0.001, 120.0)}
    observed = {**healthy(spec), **tier_observations("errors", tiers)}
    decision = decide(spec, GateState(weight=25), observed, NOW)
    (guardrail,) = decision.guardrails
    assert guardrail.verdict is Verdict.FAIL
    assert guardrail.segments[0].name == "tier enterprise"
    assert (guardrail.canary, guardrail.samples) == (0.08, 120.0)  # the worst tier's
    assert guardrail.finding.startswith("in tier enterprise: canary 0.08 > max 0.02")
    assert "(120 samples)" in guardrail.finding
    assert "2 other segment(s) judged" in guardrail.finding
    assert decision.action is Action.ROLLBACK
    assert "tier enterprise" in decision.reasons[0].message


def test_over_all_traffic_the_same_canary_passes() -> None:
    """The aggregate a peer would judge: 0.89 % errors, under both bounds."""
    whole = gate(guardrails=(segmented_guardrail(segments=None),))
    observed = {
        **healthy(whole),
        QueryKey("errors", Role.CANARY): 0.0089,
        QueryKey("errors", Role.BASELINE): 0.001,
        QueryKey("errors", Role.SAMPLES): 1200.0,
    }
    assert judge_guardrail(whole.canary.guardrails[0], observed, 0).verdict is Verdict.PASS


def test_a_failing_tier_with_too_few_samples_is_not_judged() -> None:
    spec = spec_with()
    tiers = {"free": FINE, "enterprise": (0.5, 0.001, 12.0)}
    judged = judge_guardrail(spec.canary.guardrails[0], tier_observations("errors", tiers), 0)
    assert judged.verdict is Verdict.PASS
    assert [s.name for s in judged.segments] == ["tier free"]
    assert judged.segments_ignored == 1
    assert "1 with too few samples to judge" in judged.finding


def test_no_tier_with_enough_samples_is_inconclusive() -> None:
    spec = spec_with()
    tiers = {"free": (0.001, 0.001, 10.0), "enterprise": (0.001, 0.001, 12.0)}
    judged = judge_guardrail(spec.canary.guardrails[0], tier_observations("errors", tiers), 2)
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert judged.consecutive_failures == 2  # silence keeps the count
    assert "no segment had enough canary samples (need 100)" in judged.finding


def test_a_tier_without_a_canary_value_is_silence_not_a_pass() -> None:
    spec = spec_with()
    observed = tier_observations("errors", {"free": FINE, "enterprise": FINE})
    canary = observed[QueryKey("errors", Role.CANARY)]
    assert isinstance(canary, Segmented)
    observed[QueryKey("errors", Role.CANARY)] = Segmented(
        canary.labels, {("free",): 0.001, ("enterprise",): float("nan")}
    )
    judged = judge_guardrail(spec.canary.guardrails[0], observed, 0)
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert "in tier enterprise: no canary value" in judged.finding
    decision = decide(spec, GateState(weight=25), {**healthy(spec), **observed}, NOW)
    assert decision.action is Action.HOLD


def test_a_negative_value_in_one_tier_is_invalid_evidence() -> None:
    spec = spec_with()
    tiers = {"free": FINE, "enterprise": (-0.01, 0.001, 500.0)}
    judged = judge_guardrail(spec.canary.guardrails[0], tier_observations("errors", tiers), 0)
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert judged.invalid_evidence


def test_a_whole_query_missing_is_inconclusive() -> None:
    spec = spec_with()
    observed = tier_observations("errors", {"free": FINE})
    observed[QueryKey("errors", Role.CANARY)] = Missing(MissingKind.UNREACHABLE, "down")
    judged = judge_guardrail(spec.canary.guardrails[0], observed, 1)
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert judged.consecutive_failures == 1


def test_a_minor_segmented_guardrail_failing_holds() -> None:
    spec = spec_with(severity=Severity.MINOR)
    tiers = {"free": FINE, "enterprise": (0.08, 0.001, 120.0)}
    observed = {**healthy(spec), **tier_observations("errors", tiers)}
    decision = decide(spec, GateState(weight=25), observed, NOW)
    assert decision.action is Action.HOLD


def test_a_negative_value_in_a_tier_with_too_few_samples_is_still_invalid() -> None:
    """Impossible numbers say the queries are wrong, not that the tier is small."""
    spec = spec_with()
    tiers = {"free": FINE, "enterprise": (-0.01, 0.001, 5.0)}
    judged = judge_guardrail(spec.canary.guardrails[0], tier_observations("errors", tiers), 0)
    assert judged.verdict is Verdict.INCONCLUSIVE
    assert judged.invalid_evidence
    assert "canary value -0.01 is negative" in judged.finding
