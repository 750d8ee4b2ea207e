"""The PromQL a gate needs for one evaluation, rendered and keyed, before anything is sent.

Gates that share a journey or a guardrail (equal by value) share its planned queries: the same
objects, not copies, so that an operator holding 10,000 plans holds each query once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.exposure import exposure_key
from canarygate.core.freshness import freshness_key, freshness_query_for
from canarygate.core.observations import QueryKey, Role
from canarygate.core.specs import (
    GateSpec,
    GuardrailSpec,
    HealthPolicy,
    JourneySpec,
    Segmentation,
    SuccessMetricSpec,
)
from canarygate.core.templating import render

# Distinct journeys, guardrails and success metrics whose plans are kept for sharing.
SHARED_PLANS = 8192


@dataclass(frozen=True)
class PlannedQuery:
    key: QueryKey
    promql: str
    # Set for a segmented query: its answer is one value per segment, not one value.
    segmentation: Segmentation | None = None


def journey_windows(journey: JourneySpec, spec: GateSpec) -> tuple[Duration, ...]:
    """Burn-rate windows of the policy (with the combined rules that judge this journey) plus
    the journey's compliance window, shortest first."""
    return windows_judged(journey, spec.health)


def windows_judged(journey: JourneySpec, health: HealthPolicy) -> tuple[Duration, ...]:
    """`journey_windows` from the only part of the gate it depends on: its health policy."""
    return _windows(health.for_journey(journey.name).windows(), journey.window)


@functools.lru_cache(maxsize=1024)
def _windows(policy: tuple[Duration, ...], compliance: Duration) -> tuple[Duration, ...]:
    return tuple(sorted({*policy, compliance}))


def plan_queries(spec: GateSpec) -> tuple[PlannedQuery, ...]:
    interval = spec.canary.interval.text
    planned: list[PlannedQuery] = []
    for journey in spec.journeys:
        planned += journey_queries(journey, spec.health, interval)
    for guardrail in spec.canary.guardrails:
        planned += _guardrail_queries(guardrail, interval)
    exposure = spec.canary.exposure
    if exposure is not None:
        values = {"window": spec.canary.exposure_window.text, "interval": interval}
        for role, template in (
            (Role.EXPOSURE_CANARY, exposure.canary),
            (Role.EXPOSURE_TOTAL, exposure.total),
        ):
            planned.append(PlannedQuery(exposure_key(role), render(template, values)))
    for metric in spec.canary.success_metrics:
        planned += _success_queries(metric, interval)
    for check in spec.canary.checks:
        if check.prometheus is not None:
            parts = ((Role.CHECK, check.prometheus.query),)
            planned += _interval_queries(check.name, parts, interval, None)
    return tuple(planned)


@functools.lru_cache(maxsize=SHARED_PLANS)
def journey_queries(
    journey: JourneySpec, health: HealthPolicy, interval: str
) -> tuple[PlannedQuery, ...]:
    """A journey's queries: good and total over each window, then its freshness."""
    planned: list[PlannedQuery] = []
    by = journey.segments.by if journey.segments else None
    windows = windows_judged(journey, health)
    for window in windows:
        values = {"window": window.text, "interval": interval}
        for role, template in ((Role.GOOD, journey.sli.good), (Role.TOTAL, journey.sli.total)):
            key = QueryKey(journey.name, role, window)
            planned.append(PlannedQuery(key, render(template, values), by))
    freshness = freshness_query_for(journey, health, interval)
    if freshness is not None:
        planned.append(PlannedQuery(freshness_key(journey), freshness))
    return tuple(planned)


@functools.lru_cache(maxsize=SHARED_PLANS)
def _guardrail_queries(guardrail: GuardrailSpec, interval: str) -> tuple[PlannedQuery, ...]:
    parts: tuple[tuple[Role, str | None], ...] = (
        (Role.CANARY, guardrail.canary),
        (Role.BASELINE, guardrail.baseline),
        (Role.SAMPLES, guardrail.samples),
    )
    return tuple(_interval_queries(guardrail.name, parts, interval, guardrail.segments))


@functools.lru_cache(maxsize=SHARED_PLANS)
def _success_queries(metric: SuccessMetricSpec, interval: str) -> tuple[PlannedQuery, ...]:
    parts: tuple[tuple[Role, str | None], ...] = (
        (Role.SUCCESS_CANARY, metric.canary),
        (Role.SUCCESS_BASELINE, metric.baseline),
        (Role.SUCCESS_SAMPLES, metric.samples),
        (Role.SUCCESS_BASELINE_SAMPLES, metric.baseline_samples),
    )
    return tuple(_interval_queries(metric.name, parts, interval, None))


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
