"""A segmented guardrail (`segmentBy`): canary against baseline in each segment (a tenant tier,
a region), so that a canary failing for one tier only is caught although it passes over all of
its traffic.

A segment with fewer canary samples than `minSamples` is not judged, and is counted, as a
journey's tiny segment is not: it neither passes nor fails. A negative value is invalid
evidence whatever the segment's size (the queries are wrong, not the segment small). Every
other segment gets the verdict of a guardrail (core.verdicts). The guardrail fails when any
judged segment fails; otherwise it is inconclusive when any judged segment is (silence never
passes) or when no segment could be judged; otherwise it passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryKey,
    Role,
    Sample,
    Segment,
    describe_segment,
    lookup_segments,
    sample_from_float,
)
from canarygate.core.specs import GuardrailSpec, Segmentation
from canarygate.core.verdicts import measured, verdict_of
from canarygate.core.vocabulary import Verdict

_RANK = {Verdict.FAIL: 0, Verdict.INCONCLUSIVE: 1, Verdict.PASS: 2}
_SHOWN = 3  # segments named in a finding


@dataclass(frozen=True)
class GuardrailSegment:
    labels: tuple[str, ...]
    segment: Segment
    verdict: Verdict
    canary: float | None
    baseline: float | None
    samples: float | None
    finding: str
    invalid_evidence: bool = False

    @property
    def name(self) -> str:
        return describe_segment(self.labels, self.segment)

    def labelled(self) -> dict[str, str]:
        return dict(zip(self.labels, self.segment, strict=True))

    def excess(self) -> float:
        """How far the canary stands above its baseline (or above nothing): for ordering."""
        if self.canary is None:
            return 0.0
        return self.canary - (self.baseline or 0.0)


@dataclass(frozen=True)
class SegmentVerdicts:
    verdict: Verdict
    finding: str
    segments: tuple[GuardrailSegment, ...]  # worst first
    ignored: int  # too few canary samples to judge
    invalid: bool


PerSegment = Mapping[Segment, float] | Missing


def _read(values: PerSegment, segment: Segment, absent: Sample) -> Sample:
    if isinstance(values, Missing):
        return values
    value = values.get(segment)
    return absent if value is None else sample_from_float(value)


def judge_segments(
    spec: GuardrailSpec, segmentation: Segmentation, observations: Observations
) -> SegmentVerdicts:
    canaries = lookup_segments(observations, QueryKey(spec.name, Role.CANARY))
    baselines = (
        lookup_segments(observations, QueryKey(spec.name, Role.BASELINE))
        if spec.baseline is not None
        else None
    )
    samples = (
        lookup_segments(observations, QueryKey(spec.name, Role.SAMPLES))
        if spec.samples is not None
        else None
    )
    if isinstance(canaries, Missing):
        invalid = canaries.kind is MissingKind.INVALID
        return SegmentVerdicts(
            Verdict.INCONCLUSIVE, f"no canary value ({canaries.describe()})", (), 0, invalid
        )
    if isinstance(samples, Missing) and spec.min_samples is not None:
        invalid = samples.kind is MissingKind.INVALID
        finding = f"canary sample count unknown ({samples.describe()})"
        return SegmentVerdicts(Verdict.INCONCLUSIVE, finding, (), 0, invalid)

    names = set(canaries) | (set(samples) if isinstance(samples, Mapping) else set())
    judged: list[GuardrailSegment] = []
    ignored = 0
    for segment in sorted(names):
        # No samples series for a segment: the canary served it no requests.
        count = None if samples is None else measured(_read(samples, segment, 0.0), Role.SAMPLES)
        canary = measured(
            _read(canaries, segment, Missing(MissingKind.NO_DATA, "no canary series")),
            Role.CANARY,
        )
        baseline = (
            None
            if baselines is None
            else measured(
                _read(baselines, segment, Missing(MissingKind.NO_DATA, "no baseline series")),
                Role.BASELINE,
            )
        )
        values = (canary, baseline, count)
        invalid = any(isinstance(v, Missing) and v.kind is MissingKind.INVALID for v in values)
        too_few = (
            spec.min_samples is not None and isinstance(count, float) and count < spec.min_samples
        )
        # Impossible values say the queries are wrong, not that the segment is small.
        if too_few and not invalid:
            ignored += 1
            continue
        if invalid:
            verdict = Verdict.INCONCLUSIVE
            finding = "; ".join(
                v.describe()
                for v in values
                if isinstance(v, Missing) and v.kind is MissingKind.INVALID
            )
        else:
            verdict, finding = verdict_of(spec, canary, baseline, count)
        judged.append(
            GuardrailSegment(
                labels=segmentation.labels,
                segment=segment,
                verdict=verdict,
                canary=_value(canary),
                baseline=_value(baseline),
                samples=_value(count),
                finding=finding,
                invalid_evidence=invalid and verdict is Verdict.INCONCLUSIVE,
            )
        )
    judged.sort(key=lambda s: (_RANK[s.verdict], -s.excess(), s.segment))
    verdict, finding = _combined(spec, judged, ignored)
    invalid = any(s.invalid_evidence for s in judged)
    return SegmentVerdicts(verdict, finding, tuple(judged), ignored, invalid)


def _value(sample: float | Missing | None) -> float | None:
    return sample if isinstance(sample, float) else None


def _combined(
    spec: GuardrailSpec, judged: Sequence[GuardrailSegment], ignored: int
) -> tuple[Verdict, str]:
    small = f", {ignored} with too few samples to judge" if ignored else ""
    for verdict in (Verdict.FAIL, Verdict.INCONCLUSIVE):
        found = [s for s in judged if s.verdict is verdict]
        if found:
            named = "; ".join(
                f"in {s.name}: {s.finding}" + (f" ({s.samples:.6g} samples)" if s.samples else "")
                for s in found[:_SHOWN]
            )
            more = f"; and {len(found) - _SHOWN} more segment(s)" if len(found) > _SHOWN else ""
            others = len(judged) - len(found)
            return verdict, f"{named}{more} ({others} other segment(s) judged{small})"
    if not judged:
        need = f" (need {spec.min_samples:g})" if spec.min_samples is not None else ""
        return Verdict.INCONCLUSIVE, f"no segment had enough canary samples{need}{small}"
    worst = judged[0]
    return (
        Verdict.PASS,
        f"every segment judged passes ({len(judged)} judged{small}); worst {worst.name}: "
        f"{worst.finding}",
    )
