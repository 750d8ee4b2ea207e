"""Segmented synthetic histories for the fixture Prometheus: journeys split by region or tenant
tier, a canary that fails for one tier only, and a success metric (conversion) whose canary is
better, flat or worse than its baseline. `lab.histories` writes them into the same OpenMetrics
document (and its fingerprint covers this module), evaluated at `FIXTURE_NOW` like the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lab.histories import (
    HISTORY,
    HOUR,
    MINUTE,
    JourneyHistory,
    Profile,
    _Counter,
    _journey_series,
    _lines,
    constant,
    recent,
    sample_ages,
)


@dataclass(frozen=True)
class SegmentedJourney:
    """`http_requests_total{journey, <label>, code}`: one JourneyHistory per segment value."""

    journey: str
    label: str
    segments: dict[str, tuple[Profile, Profile]]  # value -> (error ratio, requests per second)
    description: str = ""
    # value -> age in seconds: that segment has no samples newer than this (its exporter
    # stopped), while the others go on.
    stopped: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TieredCanary:
    """`http_requests_total{app, version, tier, code}`: stable and canary, per tier; each tier is
    (stable rate, stable error ratio, canary rate, canary error ratio)."""

    app: str
    tiers: dict[str, tuple[float, float, float, float]]
    span: float = 6 * HOUR
    description: str = ""


@dataclass(frozen=True)
class Conversion:
    """`sessions_total{app, version}` and `conversions_total{app, version}`: the share of
    sessions that convert, for a stable and a canary version."""

    app: str
    canary_ratio: float
    canary_rate: float = 20.0
    stable_ratio: float = 0.05
    stable_rate: float = 100.0
    span: float = 6 * HOUR
    description: str = ""


SEGMENTED_JOURNEYS = [
    SegmentedJourney(
        "regional",
        "region",
        {
            "us-east": (constant(0.0001), constant(30.0)),
            "us-west": (constant(0.0001), constant(17.5)),
            "eu-west": (recent(0.0001, 0.05, 70 * MINUTE), constant(2.5)),
        },
        description="eu-west (5 % of traffic) at 5 % errors (burn 50) for the last 70 "
        "minutes; the journey as a whole at burn 2.6: green",
    ),
    SegmentedJourney(
        "tinyregion",
        "region",
        {
            "us-east": (constant(0.0001), constant(50.0)),
            "ap-south": (recent(0.0001, 0.2, 70 * MINUTE), constant(0.02)),
        },
        description="ap-south, 0.04 % of traffic (about 6 requests in 5 minutes), fails 20 % "
        "of them for the last 70 minutes: a few errors in a segment too small to judge",
    ),
    SegmentedJourney(
        "tenants",
        "tier",
        {
            "free": (constant(0.0002), constant(40.0)),
            "enterprise": (constant(0.0004), constant(10.0)),
        },
        description="free at 0.02 % errors, enterprise at 0.04 % for the whole month: green at "
        "99.9 %, but enterprise overspends a 99.99 % budget (burn 4)",
    ),
    SegmentedJourney(
        "quietregion",
        "region",
        {
            "us-east": (constant(0.0001), constant(35.0)),
            "eu-west": (constant(0.0001), constant(15.0)),
        },
        stopped={"eu-west": 20 * MINUTE},
        description="eu-west (30 % of traffic) has had no samples for the last 20 minutes (its "
        "exporter stopped); us-east goes on, so the journey as a whole still answers, green",
    ),
    # The journeys of examples/signup-gate.yaml.
    SegmentedJourney(
        "signup",
        "region",
        {
            "us-east": (constant(0.0002), constant(30.0)),
            "us-west": (constant(0.0002), constant(17.5)),
            "eu-west": (recent(0.0002, 0.05, 70 * MINUTE), constant(2.5)),
            "ap-south": (recent(0.0002, 0.3, 70 * MINUTE), constant(0.01)),
        },
        description="eu-west (5 % of signups) at 5 % errors for the last 70 minutes, ap-south "
        "(0.02 %) at 30 %: the journey as a whole at burn 2.7, green",
    ),
    SegmentedJourney(
        "billing",
        "tier",
        {
            "free": (constant(0.0002), constant(40.0)),
            "enterprise": (constant(0.0002), constant(10.0)),
        },
        description="0.02 % errors for every tier: green for 99.9 % and for enterprise's 99.95 %",
    ),
]

TIERED_CANARIES = [
    TieredCanary(
        "tiered",
        {"free": (80.0, 0.001, 18.0, 0.001), "enterprise": (20.0, 0.001, 2.0, 0.08)},
        description="the canary fails 8 % of enterprise requests (120 a minute) and 0.1 % of "
        "free ones: 0.89 % over all its traffic",
    ),
    TieredCanary(
        "signup",
        {"free": (80.0, 0.001, 18.0, 0.0012), "enterprise": (20.0, 0.001, 2.0, 0.001)},
        description="the signup canary as good as stable in every tier",
    ),
]

CONVERSIONS = [
    Conversion("lift-better", 0.055, description="canary converts 5.5 %, stable 5 %: +10 %"),
    Conversion("lift-flat", 0.0502, description="5.02 % against 5 %: +0.4 %, within 1 %"),
    Conversion("lift-worse", 0.045, description="4.5 % against 5 %: -10 %"),
    Conversion(
        "lift-sparse", 0.06, canary_rate=0.1, description="the canary sees 6 sessions a minute"
    ),
    Conversion("signup", 0.052, description="signups convert 5.2 % on the canary, 5 % on stable"),
]


def request_lines() -> Iterator[str]:
    """Lines of the `http_requests_total` family (written with the rest of that family)."""
    for journey in SEGMENTED_JOURNEYS:
        for value, (error_ratio, requests) in journey.segments.items():
            history = JourneyHistory(
                journey.journey, error_ratio, requests, journey.stopped.get(value, 0.0)
            )
            for labels, counter in _journey_series(history):
                segment = {"journey": journey.journey, journey.label: value, "code": labels["code"]}
                yield from _lines("http_requests_total", segment, counter.points)
    for canary in TIERED_CANARIES:
        for tier, (stable_rate, stable_ratio, canary_rate, canary_ratio) in canary.tiers.items():
            versions = (
                ("stable", stable_rate, stable_ratio),
                ("canary", canary_rate, canary_ratio),
            )
            for version, rate, ratio in versions:
                for code, share in (("200", 1 - ratio), ("500", ratio)):
                    labels = {"app": canary.app, "version": version, "tier": tier, "code": code}
                    yield from _lines(
                        "http_requests_total", labels, _steady(rate * share, canary.span)
                    )


def other_families() -> Iterator[str]:
    """Whole families of their own (`# TYPE` first): sessions and conversions."""
    for family, of_sessions in (("sessions_total", 1.0), ("conversions_total", None)):
        yield f"# TYPE {family} unknown"
        for metric in CONVERSIONS:
            versions = (
                ("stable", metric.stable_rate, metric.stable_ratio),
                ("canary", metric.canary_rate, metric.canary_ratio),
            )
            for version, rate, ratio in versions:
                share = of_sessions if of_sessions is not None else ratio
                labels = {"app": metric.app, "version": version}
                yield from _lines(family, labels, _steady(rate * share, metric.span))


def _steady(rate: float, span: float) -> list[tuple[float, float]]:
    counter = _Counter()
    previous: float | None = None
    for age in sample_ages(min(span, HISTORY)):
        counter.advance(age, previous, rate)
        previous = age
    return counter.points
