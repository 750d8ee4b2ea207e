"""The verdict of a guardrail on one set of values (canary, baseline, samples): shared by a
guardrail as a whole and by each segment of a segmented one.

Too few canary samples, or a value that is missing, is `inconclusive`; `fail` when the canary
exceeds `max` or the baseline by more than `maxIncrease`; else `pass`.
"""

from __future__ import annotations

from canarygate.core.observations import Missing, MissingKind, Role, Sample
from canarygate.core.specs import GuardrailSpec
from canarygate.core.vocabulary import Verdict


def measured(sample: Sample, role: Role) -> float | Missing:
    """Guardrail values are rates, ratios, latencies or counts: a negative one is invalid."""
    if isinstance(sample, float) and sample < 0:
        return Missing(
            MissingKind.INVALID,
            f"{role} value {sample:.6g} is negative; guardrail values cannot be",
        )
    return sample


def verdict_of(
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
