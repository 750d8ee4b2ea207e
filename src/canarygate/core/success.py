"""Success metrics: what a release is for (conversion, activation...), canary against baseline,
kept apart from guardrails.

A success metric never rolls back and never overrides a guardrail or the matrix: it only
decides how the last step goes. Its lift is relative and points the way the metric gets
better: (canary - baseline) / |baseline| when higher is better, (baseline - canary) / |baseline|
when lower is. Below -margin it is `worse`, above +margin `better`, else `flat`. Too few
samples, a missing value, a negative sample count, or a zero baseline the canary differs from
is `inconclusive` (immature evidence). At the last step promotion needs every success metric
better or flat, and at least `minLift` where one is set, or, when the only ones short of that
are worse on valid evidence, a person's approval of the promotion (core.approval); before the
last step nothing a success metric says holds a canary.
"""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.approval import APPROVE_ANNOTATION, PROMOTE
from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryKey,
    Role,
    Sample,
    lookup,
)
from canarygate.core.specs import SuccessMetricSpec
from canarygate.core.vocabulary import Direction, Lift


@dataclass(frozen=True)
class SuccessAssessment:
    name: str
    direction: Direction
    verdict: Lift
    canary: float | None
    baseline: float | None
    lift: float | None
    samples: float | None
    baseline_samples: float | None
    margin: float
    min_lift: float | None
    finding: str
    invalid_evidence: bool = False

    @property
    def allows_promotion(self) -> bool:
        if self.verdict not in (Lift.BETTER, Lift.FLAT):
            return False
        return self.min_lift is None or (self.lift is not None and self.lift >= self.min_lift)

    def hold_reason(self, *, approvable: bool = False) -> str:
        """Why the last step does not promote (only meaningful when it does not);
        `approvable`: a person's approval of the promotion would let it go."""
        if self.verdict is Lift.WORSE:
            reason = (
                f"hold: success metric {self.name} is worse than the baseline beyond the margin "
                f"of {self.margin:.1%} ({self.finding}); the canary keeps its traffic, "
                "a success metric never rolls back"
            )
            if approvable:
                reason += (
                    "; a person may approve the promotion (canarygate approve, or the "
                    f"annotation {APPROVE_ANNOTATION}: <revision>/{PROMOTE})"
                )
            return reason
        if self.verdict is Lift.INCONCLUSIVE:
            return (
                f"hold: success metric {self.name} is inconclusive at the last step "
                f"({self.finding}); promotion waits for mature evidence"
            )
        return (
            f"hold: success metric {self.name} lifts less than minLift {self.min_lift:.1%} "
            f"({self.finding})"
        )


def _count(sample: Sample) -> float | Missing:
    if isinstance(sample, float) and sample < 0:
        return Missing(MissingKind.INVALID, f"sample count {sample:.6g} is negative")
    return sample


def judge_success_metric(spec: SuccessMetricSpec, observations: Observations) -> SuccessAssessment:
    def read(role: Role) -> Sample:
        return lookup(observations, QueryKey(spec.name, role))

    canary, baseline = read(Role.SUCCESS_CANARY), read(Role.SUCCESS_BASELINE)
    samples = _count(read(Role.SUCCESS_SAMPLES)) if spec.samples is not None else None
    baseline_samples = (
        _count(read(Role.SUCCESS_BASELINE_SAMPLES)) if spec.baseline_samples is not None else None
    )
    lift, verdict, why = _lift(spec, canary, baseline, samples, baseline_samples)
    values = (canary, baseline, samples, baseline_samples)
    return SuccessAssessment(
        name=spec.name,
        direction=spec.direction,
        verdict=verdict,
        canary=_value(canary),
        baseline=_value(baseline),
        lift=lift,
        samples=_value(samples),
        baseline_samples=_value(baseline_samples),
        margin=spec.margin,
        min_lift=spec.min_lift,
        finding=_finding(spec, why, lift, canary, baseline, samples, baseline_samples),
        invalid_evidence=any(
            isinstance(v, Missing) and v.kind is MissingKind.INVALID for v in values
        ),
    )


def _value(sample: float | Missing | None) -> float | None:
    return sample if isinstance(sample, float) else None


def _lift(
    spec: SuccessMetricSpec,
    canary: Sample,
    baseline: Sample,
    samples: float | Missing | None,
    baseline_samples: float | Missing | None,
) -> tuple[float | None, Lift, str]:
    """The lift, the verdict, and why it is inconclusive when it is."""
    for side, count in (("canary", samples), ("baseline", baseline_samples)):
        # A declared sample count is evidence, with or without a minimum: unanswered or
        # impossible (negative), it is silence, never a pass.
        if isinstance(count, Missing):
            return None, Lift.INCONCLUSIVE, f"{side} sample count unknown ({count.describe()})"
    if spec.min_samples is not None:
        for side, count in (("canary", samples), ("baseline", baseline_samples)):
            if count is not None and not isinstance(count, Missing) and count < spec.min_samples:
                return (
                    None,
                    Lift.INCONCLUSIVE,
                    f"immature: {count:.6g} {side} samples (need {spec.min_samples:g})",
                )
    if isinstance(canary, Missing):
        return None, Lift.INCONCLUSIVE, f"no canary value ({canary.describe()})"
    if isinstance(baseline, Missing):
        return None, Lift.INCONCLUSIVE, f"no baseline value ({baseline.describe()})"
    if baseline == 0:
        if canary != 0:
            return None, Lift.INCONCLUSIVE, "the baseline is 0, so no relative lift exists"
        lift = 0.0
    else:
        change = (canary - baseline) / abs(baseline)
        lift = change if spec.direction is Direction.HIGHER else -change
    if lift < -spec.margin:
        return lift, Lift.WORSE, ""
    if lift > spec.margin:
        return lift, Lift.BETTER, ""
    return lift, Lift.FLAT, ""


def _finding(
    spec: SuccessMetricSpec,
    why: str,
    lift: float | None,
    canary: Sample,
    baseline: Sample,
    samples: float | Missing | None,
    baseline_samples: float | Missing | None,
) -> str:
    def side(value: Sample, count: float | Missing | None) -> str:
        shown = f"{value:.4g}" if isinstance(value, float) else "unknown"
        if isinstance(count, float):
            shown += f" over {count:.6g} samples"
        return shown

    values = (
        f"canary {side(canary, samples)}, baseline {side(baseline, baseline_samples)}; "
        f"{spec.direction} is better"
    )
    if lift is None:
        return f"{why}; {values}"
    return f"lift {lift:+.1%} ({values})"
