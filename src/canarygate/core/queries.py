"""The PromQL a gate needs for one evaluation, rendered and keyed, before anything is sent."""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.observations import QueryKey, Role
from canarygate.core.specs import GateSpec, JourneySpec
from canarygate.core.templating import render


@dataclass(frozen=True)
class PlannedQuery:
    key: QueryKey
    promql: str


def journey_windows(journey: JourneySpec, spec: GateSpec) -> tuple[Duration, ...]:
    """Burn-rate windows of the policy plus the journey's compliance window, shortest first."""
    return tuple(sorted({*spec.health.windows(), journey.window}))


def plan_queries(spec: GateSpec) -> tuple[PlannedQuery, ...]:
    interval = spec.canary.interval.text
    planned: list[PlannedQuery] = []
    for journey in spec.journeys:
        for window in journey_windows(journey, spec):
            values = {"window": window.text, "interval": interval}
            for role, template in ((Role.GOOD, journey.sli.good), (Role.TOTAL, journey.sli.total)):
                key = QueryKey(journey.name, role, window)
                planned.append(PlannedQuery(key, render(template, values)))
    for guardrail in spec.canary.guardrails:
        parts = (
            (Role.CANARY, guardrail.canary),
            (Role.BASELINE, guardrail.baseline),
            (Role.SAMPLES, guardrail.samples),
        )
        for role, optional_template in parts:
            if optional_template is not None:
                key = QueryKey(guardrail.name, role)
                rendered = render(optional_template, {"interval": interval})
                planned.append(PlannedQuery(key, rendered))
    return tuple(planned)
