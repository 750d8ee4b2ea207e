"""Small builders for core specs and observations, so each test states only what it varies."""

from __future__ import annotations

from canarygate.core import (
    CanarySpec,
    Duration,
    GateSpec,
    GuardrailSpec,
    JourneySpec,
    Missing,
    MissingKind,
    QueryKey,
    Role,
    Sample,
    SliQueries,
    plan_queries,
)
from canarygate.core.queries import journey_windows

SLI = SliQueries(good="good{j}[{{window}}]", total="total{j}[{{window}}]")


def journey(name: str = "checkout", objective: float = 99.9, **kwargs: object) -> JourneySpec:
    return JourneySpec(name=name, objective_percent=objective, sli=SLI, **kwargs)  # type: ignore[arg-type]


def gate(
    *journeys: JourneySpec,
    steps: tuple[int, ...] = (5, 10, 25, 50, 100),
    guardrails: tuple[GuardrailSpec, ...] = (),
    **kwargs: object,
) -> GateSpec:
    return GateSpec(
        journeys=journeys or (journey(),),
        canary=CanarySpec(steps=steps, guardrails=guardrails),
        **kwargs,  # type: ignore[arg-type]
    )


def journey_observations(
    spec: GateSpec,
    name: str,
    error_ratio: float | dict[str, float] = 0.0,
    *,
    total: float = 1000.0,
    missing: dict[str, Missing] | None = None,
) -> dict[QueryKey, Sample]:
    """good/total for every window of journey `name`; ratios may differ per window text."""
    target = next(j for j in spec.journeys if j.name == name)
    found: dict[QueryKey, Sample] = {}
    for window in journey_windows(target, spec):
        ratio = error_ratio.get(window.text, 0.0) if isinstance(error_ratio, dict) else error_ratio
        found[QueryKey(name, Role.GOOD, window)] = total * (1 - ratio)
        found[QueryKey(name, Role.TOTAL, window)] = total
        if missing and window.text in missing:
            found[QueryKey(name, Role.TOTAL, window)] = missing[window.text]
    return found


def healthy(spec: GateSpec) -> dict[QueryKey, Sample]:
    found: dict[QueryKey, Sample] = {}
    for j in spec.journeys:
        found.update(journey_observations(spec, j.name, 0.0))
    return found


def guardrail_observations(
    name: str,
    canary: Sample,
    baseline: Sample | None = None,
    samples: Sample | None = None,
) -> dict[QueryKey, Sample]:
    found: dict[QueryKey, Sample] = {QueryKey(name, Role.CANARY): canary}
    if baseline is not None:
        found[QueryKey(name, Role.BASELINE)] = baseline
    if samples is not None:
        found[QueryKey(name, Role.SAMPLES)] = samples
    return found


def silence(spec: GateSpec, kind: MissingKind = MissingKind.UNREACHABLE) -> dict[QueryKey, Sample]:
    return {q.key: Missing(kind, "silence") for q in plan_queries(spec)}


MINUTE = Duration(60_000)
