"""Canary-versus-baseline guardrails: one verdict per guardrail per evaluation.

Too few canary samples, or a value that is missing, is `inconclusive`, never a pass and
never a failure: a blip or a silent query must not roll a canary back. Guardrail values are
rates, ratios, latencies or counts, so a negative one is invalid evidence, treated the same
way (a canary error rate of -1 would otherwise pass every `max`).

A segmented guardrail (`segmentBy`) is judged segment by segment (core.guardrail_segments):
it fails when any segment with enough samples fails.
"""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.guardrail_segments import GuardrailSegment, judge_segments
from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryKey,
    Role,
    lookup,
)
from canarygate.core.specs import GuardrailSpec
from canarygate.core.verdicts import measured, verdict_of
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
    # A segmented guardrail: its labels, the segments judged (worst first; the values above
    # are the worst one's) and how many had too few samples to judge.
    segment_labels: tuple[str, ...] = ()
    segments: tuple[GuardrailSegment, ...] = ()
    segments_ignored: int = 0

    @property
    def limit_reached(self) -> bool:
        return self.verdict is Verdict.FAIL and self.consecutive_failures >= self.failure_limit


@dataclass(frozen=True)
class _Judged:
    verdict: Verdict
    finding: str
    canary: float | None
    baseline: float | None
    samples: float | None
    invalid: bool


def _value(sample: float | Missing | None) -> float | None:
    return sample if isinstance(sample, float) else None


def _judge_whole(spec: GuardrailSpec, observations: Observations) -> _Judged:
    def read(role: Role) -> float | Missing:
        return measured(lookup(observations, QueryKey(spec.name, role)), role)

    canary = read(Role.CANARY)
    baseline = read(Role.BASELINE) if spec.baseline is not None else None
    samples = read(Role.SAMPLES) if spec.samples is not None else None
    verdict, finding = verdict_of(spec, canary, baseline, samples)
    values = (canary, baseline, samples)
    invalid = any(isinstance(v, Missing) and v.kind is MissingKind.INVALID for v in values)
    return _Judged(verdict, finding, _value(canary), _value(baseline), _value(samples), invalid)


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
    segmented = (
        judge_segments(spec, spec.segments, observations) if spec.segments is not None else None
    )
    if segmented is None:
        judged = _judge_whole(spec, observations)
    else:
        worst = segmented.segments[0] if segmented.segments else None
        judged = _Judged(
            segmented.verdict,
            segmented.finding,
            worst.canary if worst else None,
            worst.baseline if worst else None,
            worst.samples if worst else None,
            segmented.invalid,
        )
    verdict, finding = judged.verdict, judged.finding
    if not canary_has_traffic and verdict is not Verdict.INCONCLUSIVE:
        verdict, finding = Verdict.INCONCLUSIVE, f"the canary has no traffic yet; read: {finding}"
    if verdict is Verdict.FAIL:
        failures = previous_failures + 1
    elif verdict is Verdict.PASS:
        failures = 0
    else:
        # Silence neither adds evidence of failure nor erases the evidence already seen.
        failures = previous_failures
    return GuardrailAssessment(
        name=spec.name,
        verdict=verdict,
        severity=spec.severity,
        canary=judged.canary,
        baseline=judged.baseline,
        samples=judged.samples,
        consecutive_failures=failures,
        failure_limit=spec.failure_limit,
        finding=finding,
        invalid_evidence=judged.invalid and verdict is Verdict.INCONCLUSIVE,
        segment_labels=spec.segments.labels if spec.segments else (),
        segments=segmented.segments if segmented else (),
        segments_ignored=segmented.ignored if segmented else 0,
    )
