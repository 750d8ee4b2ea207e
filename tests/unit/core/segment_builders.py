"""Builders for segmented journeys and guardrails, success metrics, and their observations."""

from __future__ import annotations

from collections.abc import Mapping

from canarygate.core import (
    Direction,
    GateSpec,
    GuardrailSpec,
    JourneySegments,
    JourneySpec,
    Observation,
    QueryKey,
    Role,
    Segmentation,
    Segmented,
    SuccessMetricSpec,
)
from canarygate.core.queries import journey_windows

from .builders import journey

BY_REGION = Segmentation(("region",))
BY_TIER = Segmentation(("tier",))

# A segment's traffic: its error ratio (one for every window, or by window text) and its
# events per window.
Traffic = tuple[float | dict[str, float], float]


def segmented_journey(
    name: str = "checkout",
    objective: float = 99.9,
    *,
    by: Segmentation = BY_REGION,
    min_share: float = 0.01,
    objectives: dict[str, float] | None = None,
    **kwargs: object,
) -> JourneySpec:
    segments = JourneySegments(by, min_share, tuple(sorted((objectives or {}).items())))
    return journey(name, objective, segments=segments, **kwargs)


def segment_observations(
    spec: GateSpec, name: str, traffic: Mapping[str, Traffic]
) -> dict[QueryKey, Observation]:
    """good/total of journey `name`, one value per segment (named by its one label value)."""
    target = next(j for j in spec.journeys if j.name == name)
    assert target.segments is not None
    labels = target.segments.by.labels
    found: dict[QueryKey, Observation] = {}
    for window in journey_windows(target, spec):
        goods: dict[tuple[str, ...], float] = {}
        totals: dict[tuple[str, ...], float] = {}
        for segment, (ratio, total) in traffic.items():
            share = ratio.get(window.text, 0.0) if isinstance(ratio, dict) else ratio
            goods[(segment,)] = total * (1 - share)
            totals[(segment,)] = total
        found[QueryKey(name, Role.GOOD, window)] = Segmented(labels, goods)
        found[QueryKey(name, Role.TOTAL, window)] = Segmented(labels, totals)
    return found


def segmented_guardrail(name: str = "errors", **kwargs: object) -> GuardrailSpec:
    """Canary error ratio per tier: at most 0.02 and +0.01 over the baseline, 100 samples."""
    defaults: dict[str, object] = {
        "baseline": "b",
        "max": 0.02,
        "max_increase": 0.01,
        "samples": "n",
        "min_samples": 100,
        "segments": BY_TIER,
    }
    return GuardrailSpec(name, "c", **{**defaults, **kwargs})  # type: ignore[arg-type]


def tier_observations(
    name: str, tiers: Mapping[str, tuple[float, float, float]]
) -> dict[QueryKey, Observation]:
    """canary, baseline and samples of guardrail `name`, per tier."""
    parts = {Role.CANARY: 0, Role.BASELINE: 1, Role.SAMPLES: 2}
    return {
        QueryKey(name, role): Segmented(
            BY_TIER.labels, {(tier,): values[index] for tier, values in tiers.items()}
        )
        for role, index in parts.items()
    }


def success_metric(name: str = "conversion", **kwargs: object) -> SuccessMetricSpec:
    defaults: dict[str, object] = {
        "direction": Direction.HIGHER,
        "samples": "n",
        "baseline_samples": "m",
        "min_samples": 1000,
    }
    return SuccessMetricSpec(name, "c", "b", **{**defaults, **kwargs})  # type: ignore[arg-type]


def success_observations(
    name: str,
    canary: float,
    baseline: float,
    samples: float = 5000.0,
    baseline_samples: float = 20000.0,
) -> dict[QueryKey, Observation]:
    return {
        QueryKey(name, Role.SUCCESS_CANARY): canary,
        QueryKey(name, Role.SUCCESS_BASELINE): baseline,
        QueryKey(name, Role.SUCCESS_SAMPLES): samples,
        QueryKey(name, Role.SUCCESS_BASELINE_SAMPLES): baseline_samples,
    }
