"""Journeys judged segment by segment (`segmentBy`): the same SLO math per region, tier or
tenant, so that a canary hurting one of them is seen while the journey as a whole is green.

Which segments count: a segment is judged once it carries at least `minSegmentShare` of the
journey's events in some window (the journey's events being the sum over its segments);
below that in every window it is left out, and counted, so that three requests of a rare
tenant cannot turn a gate red. A judged segment follows the rules of a journey in every
window, with its own objective when the gate names one: no events, no good series, NaN or
an infinity is silence (unknown, never green). Impossible counts (negative, good > total)
are invalid evidence whatever the segment's size: they say the queries are wrong, not that
the segment is small. So is a segment whose size cannot be read (a NaN total): it is judged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

from canarygate.core.classifying import classify
from canarygate.core.durations import Duration
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
from canarygate.core.slo import budget_remaining, error_ratio
from canarygate.core.specs import HealthPolicy, JourneySegments, JourneySpec
from canarygate.core.vocabulary import Health

# Worst first: evidence of harm, then silence, then the rest.
_RANK = {Health.RED: 0, Health.UNKNOWN: 1, Health.YELLOW: 2, Health.GREEN: 3}


@dataclass(frozen=True)
class SegmentAssessment:
    labels: tuple[str, ...]
    segment: Segment
    health: Health
    objective_percent: float
    burn_rates: tuple[tuple[Duration, float | None], ...]
    budget_remaining: float | None
    # The largest share of the journey's events the segment carried in one window.
    share: float | None
    # What puts it at its level, short enough for parentheses ("burn 21 over 1h").
    summary: str
    findings: tuple[str, ...]
    complete: bool
    invalid_evidence: tuple[str, ...] = ()
    rules_fired: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return describe_segment(self.labels, self.segment)

    def labelled(self) -> dict[str, str]:
        return dict(zip(self.labels, self.segment, strict=True))

    def burn_rate_map(self) -> dict[str, float | None]:
        return {window.text: rate for window, rate in self.burn_rates}

    def worst_burn(self) -> float:
        return max((rate for _, rate in self.burn_rates if rate is not None), default=0.0)


@dataclass(frozen=True)
class SegmentsFound:
    judged: tuple[SegmentAssessment, ...]  # worst first
    ignored: int  # too small to judge in every window


@dataclass(frozen=True)
class _Answer:
    """Both SLI queries of one window, one value per segment (or why there is none)."""

    goods: Mapping[Segment, float] | Missing
    totals: Mapping[Segment, float] | Missing

    def segments(self) -> set[Segment]:
        return {
            segment
            for found in (self.goods, self.totals)
            if not isinstance(found, Missing)
            for segment in found
        }

    @cached_property
    def events(self) -> float:
        """The journey's events in the window: the sum of the segments' totals that are counts."""
        if isinstance(self.totals, Missing):
            return 0.0
        return sum(value for value in self.totals.values() if _count(value))

    def share(self, segment: Segment) -> float | None:
        """The segment's share of the window's events: None when the totals are silent or
        the segment's own total is not a count (NaN, an infinity, negative)."""
        if isinstance(self.totals, Missing):
            return None
        total = self.totals.get(segment, 0.0)
        if not _count(total):
            return None
        return total / self.events if self.events > 0 else 0.0

    def size_unreadable(self, segment: Segment) -> bool:
        return not isinstance(self.totals, Missing) and not _count(self.totals.get(segment, 0.0))

    def ratio(self, segment: Segment, error_budget: float) -> Sample:
        if isinstance(self.totals, Missing):
            return self.totals
        if isinstance(self.goods, Missing):
            return self.goods
        good_value, total_value = self.goods.get(segment), self.totals.get(segment)
        if total_value is None:
            if good_value is not None and _count(good_value) and good_value > 0:
                return Missing(
                    MissingKind.INVALID,
                    f"good {good_value:.6g} > total 0 (no sli.total series for the segment); "
                    "sli.good must count a subset of sli.total",
                )
            return Missing(MissingKind.NO_DATA, "no events of the segment in the window")
        good: Sample = (
            Missing(MissingKind.NO_DATA, "no sli.good series for the segment")
            if good_value is None
            else sample_from_float(good_value)
        )
        return error_ratio(good, sample_from_float(total_value), error_budget)


def _count(value: float) -> bool:
    return math.isfinite(value) and value >= 0


def assess_segments(
    journey: JourneySpec,
    segments: JourneySegments,
    windows: Sequence[Duration],
    policy: HealthPolicy,
    observations: Observations,
) -> SegmentsFound:
    answers = {
        window: _Answer(
            lookup_segments(observations, QueryKey(journey.name, Role.GOOD, window)),
            lookup_segments(observations, QueryKey(journey.name, Role.TOTAL, window)),
        )
        for window in windows
    }
    judged: list[SegmentAssessment] = []
    ignored = 0
    burn_windows = frozenset(policy.windows())
    for segment in sorted({s for answer in answers.values() for s in answer.segments()}):
        assessment = _assess(journey, segments, segment, answers, policy, burn_windows)
        if assessment is None:
            ignored += 1
        else:
            judged.append(assessment)
    judged.sort(key=lambda a: (_RANK[a.health], -a.worst_burn(), a.segment))
    return SegmentsFound(tuple(judged), ignored)


def _assess(
    journey: JourneySpec,
    segments: JourneySegments,
    segment: Segment,
    answers: Mapping[Duration, _Answer],
    policy: HealthPolicy,
    burn_windows: frozenset[Duration],
) -> SegmentAssessment | None:
    """The segment's assessment, or None when it is too small to judge in every window."""
    objective = segments.objective_for(segment, journey.objective_percent)
    error_budget = 1.0 - objective / 100.0
    ratios = {window: answer.ratio(segment, error_budget) for window, answer in answers.items()}
    invalid = [
        f"over {window}: {ratio.detail}"
        for window, ratio in ratios.items()
        if isinstance(ratio, Missing) and ratio.kind is MissingKind.INVALID
    ]
    shares = [share for answer in answers.values() if (share := answer.share(segment)) is not None]
    largest = max(shares, default=None)
    big_enough = largest is not None and largest > 0 and largest >= segments.min_share
    unreadable = any(answer.size_unreadable(segment) for answer in answers.values())
    if not (big_enough or invalid or unreadable):
        return None

    burns: dict[Duration, float | None] = {}
    missing: dict[str, list[str]] = {}
    remaining: float | None = None
    for window, ratio in ratios.items():
        if isinstance(ratio, Missing):
            missing.setdefault(ratio.describe(), []).append(window.text)
        if window in burn_windows:
            burns[window] = None if isinstance(ratio, Missing) else ratio / error_budget
        if window == journey.window:
            left = budget_remaining(ratio, error_budget)
            remaining = None if isinstance(left, Missing) else left
    health, findings = classify(policy, burns, remaining, missing)
    return SegmentAssessment(
        labels=segments.by.labels,
        segment=segment,
        health=health,
        objective_percent=objective,
        burn_rates=tuple(burns.items()),  # in the windows' order: shortest first
        budget_remaining=remaining,
        share=largest,
        summary=findings[0].summary if findings else _green_summary(burns),
        findings=tuple(f.detail for f in findings),
        complete=not missing,
        invalid_evidence=tuple(invalid),
        rules_fired=tuple(f.rule for f in findings if f.rule is not None),
    )


def _green_summary(burns: Mapping[Duration, float | None]) -> str:
    known = [(window, rate) for window, rate in burns.items() if rate is not None]
    if not known:
        return "no burn rate"
    window, rate = max(known, key=lambda pair: (pair[1], pair[0]))
    return f"burn {rate:.3g} over {window}"
