"""The PromQL a gate needs for one evaluation, rendered and keyed, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.exposure import exposure_key
from canarygate.core.freshness import freshness_key, freshness_query
from canarygate.core.observations import QueryKey, Role
from canarygate.core.specs import GateSpec, JourneySpec, Segmentation
from canarygate.core.templating import render


@dataclass(frozen=True)
class PlannedQuery:
    key: QueryKey
    promql: str
    # Set for a segmented query: its answer is one value per segment, not one value.
    segmentation: Segmentation | None = None


def journey_windows(journey: JourneySpec, spec: GateSpec) -> tuple[Duration, ...]:
    """Burn-rate windows of the policy (with the combined rules that judge this journey) plus
    the journey's compliance window, shortest first."""
    return tuple(sorted({*spec.health.for_journey(journey.name).windows(), journey.window}))


def plan_queries(spec: GateSpec) -> tuple[PlannedQuery, ...]:
    interval = spec.canary.interval.text
    planned: list[PlannedQuery] = []
    for journey in spec.journeys:
        by = journey.segments.by if journey.segments else None
        for window in journey_windows(journey, spec):
            values = {"window": window.text, "interval": interval}
            for role, template in ((Role.GOOD, journey.sli.good), (Role.TOTAL, journey.sli.total)):
                key = QueryKey(journey.name, role, window)
                planned.append(PlannedQuery(key, render(template, values), by))
        freshness = freshness_query(journey, spec)
        if freshness is not None:
            planned.append(PlannedQuery(freshness_key(journey), freshness))
    for guardrail in spec.canary.guardrails:
        parts: tuple[tuple[Role, str | None], ...] = (
            (Role.CANARY, guardrail.canary),
            (Role.BASELINE, guardrail.baseline),
            (Role.SAMPLES, guardrail.samples),
        )
        planned += _interval_queries(guardrail.name, parts, interval, guardrail.segments)
    exposure = spec.canary.exposure
    if exposure is not None:
        values = {"window": spec.canary.exposure_window.text, "interval": interval}
        for role, template in (
            (Role.EXPOSURE_CANARY, exposure.canary),
            (Role.EXPOSURE_TOTAL, exposure.total),
        ):
            planned.append(PlannedQuery(exposure_key(role), render(template, values)))
    for metric in spec.canary.success_metrics:
        parts = (
            (Role.SUCCESS_CANARY, metric.canary),
            (Role.SUCCESS_BASELINE, metric.baseline),
            (Role.SUCCESS_SAMPLES, metric.samples),
            (Role.SUCCESS_BASELINE_SAMPLES, metric.baseline_samples),
        )
        planned += _interval_queries(metric.name, parts, interval, None)
    for check in spec.canary.checks:
        if check.prometheus is not None:
            parts = ((Role.CHECK, check.prometheus.query),)
            planned += _interval_queries(check.name, parts, interval, None)
    return tuple(planned)


def _interval_queries(
    subject: str,
    parts: tuple[tuple[Role, str | None], ...],
    interval: str,
    segmentation: Segmentation | None,
) -> list[PlannedQuery]:
    return [
        PlannedQuery(
            QueryKey(subject, role), render(template, {"interval": interval}), segmentation
        )
        for role, template in parts
        if template is not None
    ]
