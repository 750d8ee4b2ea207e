"""Customer health of each journey and of the whole gate.

A journey is red as soon as the evidence shows it (even if another window is silent);
otherwise any missing measurement makes it unknown, so silence never looks green. A
segmented journey is judged over all of its traffic and segment by segment (core.segments),
and is the worst of those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from canarygate.core.classifying import classify
from canarygate.core.durations import Duration
from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observations,
    QueryKey,
    Role,
    lookup_sum,
)
from canarygate.core.segments import SegmentAssessment, SegmentsFound, assess_segments
from canarygate.core.slo import budget_remaining, burn_rate, error_ratio
from canarygate.core.specs import HealthPolicy, JourneySpec
from canarygate.core.vocabulary import HEALTH_ORDER, Health


@dataclass(frozen=True)
class JourneyAssessment:
    name: str
    health: Health
    critical: bool
    objective_percent: float
    weight: float
    burn_rates: tuple[tuple[Duration, float | None], ...]
    budget_remaining: float | None
    # Over all of the journey's traffic (for a segmented journey: what "overall" means).
    findings: tuple[str, ...]
    # False when some window had no usable data, even if red was established without it.
    complete: bool = True
    # Impossible numbers seen (good > total, negative counts), by window: treated as silence.
    invalid_evidence: tuple[str, ...] = ()
    # A segmented journey: its labels, its health over all traffic, its judged segments (worst
    # first) and how many segments were too small to judge. `health` is the worst of them.
    segment_labels: tuple[str, ...] = ()
    overall: Health | None = None
    segments: tuple[SegmentAssessment, ...] = ()
    segments_ignored: int = 0
    # The combined rules (spec.health.rules) that put the journey at its level, by name.
    rules_fired: tuple[str, ...] = ()

    def burn_rate_map(self) -> dict[str, float | None]:
        return {window.text: rate for window, rate in self.burn_rates}

    @property
    def segmented(self) -> bool:
        return bool(self.segment_labels)


def assess_journey(
    journey: JourneySpec,
    windows: Sequence[Duration],
    policy: HealthPolicy,
    observations: Observations,
) -> JourneyAssessment:
    policy = policy.for_journey(journey.name)
    burns: dict[Duration, float | None] = {}
    missing: dict[str, list[str]] = {}
    invalid: list[str] = []
    remaining: float | None = None
    burn_windows = set(policy.windows())
    for window in windows:
        # A segmented query is summed over its segments: the journey's value over all traffic.
        ratio = error_ratio(
            lookup_sum(observations, QueryKey(journey.name, Role.GOOD, window)),
            lookup_sum(observations, QueryKey(journey.name, Role.TOTAL, window)),
            journey.error_budget,
        )
        if isinstance(ratio, Missing):
            missing.setdefault(ratio.describe(), []).append(window.text)
            if ratio.kind is MissingKind.INVALID:
                invalid.append(f"over {window}: {ratio.detail}")
        if window in burn_windows:
            rate = burn_rate(ratio, journey.error_budget)
            burns[window] = None if isinstance(rate, Missing) else rate
        if window == journey.window:
            left = budget_remaining(ratio, journey.error_budget)
            remaining = None if isinstance(left, Missing) else left

    health, findings = classify(policy, burns, remaining, missing)
    assessment = JourneyAssessment(
        name=journey.name,
        health=health,
        critical=journey.critical,
        objective_percent=journey.objective_percent,
        weight=journey.weight,
        burn_rates=tuple(sorted(burns.items())),
        budget_remaining=remaining,
        findings=tuple(f.detail for f in findings),
        complete=not missing,
        invalid_evidence=tuple(invalid),
        rules_fired=tuple(f.rule for f in findings if f.rule is not None),
    )
    if journey.segments is None:
        return assessment
    found = assess_segments(journey, journey.segments, windows, policy, observations)
    return _with_segments(assessment, journey.segments.by.labels, found)


def _with_segments(
    overall: JourneyAssessment, labels: tuple[str, ...], found: SegmentsFound
) -> JourneyAssessment:
    """The journey is the worst of its traffic as a whole and its judged segments, by the
    rule of a journey: red as soon as one shows red, else unknown if any is silent."""
    levels = [overall.health, *(s.health for s in found.judged)]
    complete = overall.complete and all(s.complete for s in found.judged)
    if Health.RED in levels:
        health = Health.RED
    elif Health.UNKNOWN in levels or not complete:
        health = Health.UNKNOWN
    else:
        health = Health.YELLOW if Health.YELLOW in levels else Health.GREEN
    invalid = [
        f"in {segment.name} {problem}"
        for segment in found.judged
        for problem in segment.invalid_evidence
    ]
    # A rule that fired in a segment at the journey's level is a rule that fired for it.
    fired = [
        *(overall.rules_fired if overall.health is health else ()),
        *(rule for s in found.judged if s.health is health for rule in s.rules_fired),
    ]
    return replace(
        overall,
        health=health,
        rules_fired=tuple(dict.fromkeys(fired)),
        complete=complete,
        invalid_evidence=(*overall.invalid_evidence, *invalid),
        segment_labels=labels,
        overall=overall.health,
        segments=found.judged,
        segments_ignored=found.ignored,
    )


def combine_health(assessments: Sequence[JourneyAssessment]) -> Health:
    """The worst journey decides, with silence ranked between evidence of red and the rest.

    A critical journey that is red makes the gate red whatever else is silent. Otherwise any
    journey with a silent window, critical or not, makes the gate unknown, even a
    non-critical one already red on partial data: capped at yellow it could otherwise let
    worse numbers unlock a step (yellow x low may advance) that silence would have held.
    A non-critical journey can make the gate at most yellow.
    """
    if not assessments:
        return Health.UNKNOWN
    if any(a.critical and a.health is Health.RED for a in assessments):
        return Health.RED
    if any(a.health is Health.UNKNOWN or not a.complete for a in assessments):
        return Health.UNKNOWN
    worst = max(
        HEALTH_ORDER.index(a.health) if a.critical else min(HEALTH_ORDER.index(a.health), 1)
        for a in assessments
    )
    return HEALTH_ORDER[worst]


def composite_score(assessments: Sequence[JourneyAssessment]) -> float | None:
    """Weighted mean of remaining budget (clamped to 0..1); None if any journey lacks it."""
    total_weight = sum(a.weight for a in assessments)
    if not assessments or total_weight <= 0:
        return None
    weighted = 0.0
    for a in assessments:
        if a.budget_remaining is None:
            return None
        weighted += a.weight * min(1.0, max(0.0, a.budget_remaining))
    return weighted / total_weight
