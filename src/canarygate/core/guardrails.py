"""Canary-versus-baseline guardrails: one verdict per guardrail per evaluation.

Too few canary samples, or a value that is missing, is `inconclusive`, never a pass and
never a failure: a blip or a silent query must not roll a canary back. Guardrail values are
rates, ratios, latencies or counts, so a negative one is invalid evidence, treated the same
way (a canary error rate of -1 would otherwise pass every `max`).
"""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryKey,
    Role,
    lookup,
)
from canarygate.core.specs import GuardrailSpec
from canarygate.core.vocabulary import Severity, Verdict


@dataclass(frozen=True)
class GuardrailAssessment:
    name: str
    verdict: Verdict
    severity: Severity
    canary: float | None
    baseline: float | None
    samples: float | None
    consecutive_failures: int
    failure_limit: int
    finding: str
    invalid_evidence: bool = False

    @property
    def limit_reached(self) -> bool:
        return self.verdict is Verdict.FAIL and self.consecutive_failures >= self.failure_limit


def _value(sample: float | Missing) -> float | None:
    return None if isinstance(sample, Missing) else sample


def _measured(observations: Observations, key: QueryKey) -> float | Missing:
    sample = lookup(observations, key)
    if isinstance(sample, float) and sample < 0:
        return Missing(
            MissingKind.INVALID,
            f"{key.role} value {sample:.6g} is negative; guardrail values cannot be",
        )
    return sample


def judge_guardrail(
    spec: GuardrailSpec,
    observations: Observations,
    previous_failures: int,
    *,
    canary_has_traffic: bool = True,
) -> GuardrailAssessment:
    """One verdict. Without traffic (weight 0) whatever the canary queries return is not
    this canary's doing (requests of an earlier revision still in the window, say), so it is
    reported but judged inconclusive: it neither passes nor counts as a failure."""
    canary = _measured(observations, QueryKey(spec.name, Role.CANARY))
    baseline = (
        _measured(observations, QueryKey(spec.name, Role.BASELINE))
        if spec.baseline is not None
        else None
    )
    samples = (
        _measured(observations, QueryKey(spec.name, Role.SAMPLES))
        if spec.samples is not None
        else None
    )
    verdict, finding = _verdict(spec, canary, baseline, samples)
    if not canary_has_traffic and verdict is not Verdict.INCONCLUSIVE:
        verdict, finding = Verdict.INCONCLUSIVE, f"the canary has no traffic yet; read: {finding}"
    if verdict is Verdict.FAIL:
        failures = previous_failures + 1
    elif verdict is Verdict.PASS:
        failures = 0
    else:
        # Silence neither adds evidence of failure nor erases the evidence already seen.
        failures = previous_failures
    measured = (canary, baseline, samples)
    invalid = any(isinstance(m, Missing) and m.kind is MissingKind.INVALID for m in measured)
    return GuardrailAssessment(
        name=spec.name,
        verdict=verdict,
        severity=spec.severity,
        canary=_value(canary),
        baseline=None if baseline is None else _value(baseline),
        samples=None if samples is None else _value(samples),
        consecutive_failures=failures,
        failure_limit=spec.failure_limit,
        finding=finding,
        invalid_evidence=invalid and verdict is Verdict.INCONCLUSIVE,
    )


def _verdict(
    spec: GuardrailSpec,
    canary: float | Missing,
    baseline: float | Missing | None,
    samples: float | Missing | None,
) -> tuple[Verdict, str]:
    if spec.min_samples is not None and samples is not None:
        if isinstance(samples, Missing):
            return Verdict.INCONCLUSIVE, f"canary sample count unknown ({samples.describe()})"
        if samples < spec.min_samples:
            return (
                Verdict.INCONCLUSIVE,
                f"only {samples:.6g} canary samples (need {spec.min_samples:g})",
            )
    if isinstance(canary, Missing):
        return Verdict.INCONCLUSIVE, f"no canary value ({canary.describe()})"

    failures: list[str] = []
    if spec.max is not None and canary > spec.max:
        failures.append(f"canary {canary:.6g} > max {spec.max:g}")
    undecided = ""
    if spec.max_increase is not None:
        if baseline is None or isinstance(baseline, Missing):
            detail = "no baseline query" if baseline is None else baseline.describe()
            undecided = f"no baseline value to compare with ({detail})"
        elif canary - baseline > spec.max_increase:
            failures.append(
                f"canary {canary:.6g} exceeds baseline {baseline:.6g} by "
                f"{canary - baseline:.6g} > maxIncrease {spec.max_increase:g}"
            )
    if failures:
        return Verdict.FAIL, "; ".join(failures)
    if undecided:
        return Verdict.INCONCLUSIVE, undecided
    return Verdict.PASS, _pass_finding(spec, canary, baseline)


def _pass_finding(spec: GuardrailSpec, canary: float, baseline: float | Missing | None) -> str:
    parts = [f"canary {canary:.6g}"]
    if spec.max is not None:
        parts.append(f"<= max {spec.max:g}")
    if spec.max_increase is not None and isinstance(baseline, float):
        parts.append(f"within +{spec.max_increase:g} of baseline {baseline:.6g}")
    return " ".join(parts)
