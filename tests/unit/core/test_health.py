"""Journey health under the default multi-window, multi-burn-rate policy."""

from __future__ import annotations

import pytest

from canarygate.core import DEFAULT_HEALTH_POLICY, Health, Missing, MissingKind
from canarygate.core.health import assess_journey, combine_health
from canarygate.core.queries import journey_windows

from .builders import gate, journey, journey_observations


def health_of(error_ratio: float | dict[str, float], **kwargs: object) -> Health:
    spec = gate(journey())
    observations = journey_observations(spec, "checkout", error_ratio, **kwargs)  # type: ignore[arg-type]
    j = spec.journeys[0]
    return assess_journey(j, journey_windows(j, spec), DEFAULT_HEALTH_POLICY, observations).health


def test_low_steady_errors_are_green() -> None:
    assert health_of(0.0001) is Health.GREEN


def test_fast_burn_in_both_windows_is_red() -> None:
    assert health_of({"5m": 0.0144, "1h": 0.0144}) is Health.RED


def test_fast_burn_needs_both_windows() -> None:
    # An hour-long window still remembers a blip the 5-minute window has forgotten.
    old_blip = {"1h": 0.05, "5m": 0.0, "30m": 0.0, "6h": 0.01, "1d": 0.004, "2h": 0.025}
    assert health_of(old_blip) is Health.YELLOW


def test_slow_burn_is_red() -> None:
    assert health_of({"6h": 0.006, "30m": 0.006}) is Health.RED


@pytest.mark.parametrize(
    "ratios", [{"1d": 0.003, "2h": 0.003}, {"3d": 0.001, "6h": 0.001}], ids=["1d/2h", "3d/6h"]
)
def test_moderate_burn_is_yellow(ratios: dict[str, float]) -> None:
    assert health_of(ratios) is Health.YELLOW


def test_budget_thresholds() -> None:
    # Remaining budget = 1 - ratio/budget over 30d: 0.2 remaining is yellow, <= 0 is red.
    assert health_of({"30d": 0.0008}) is Health.YELLOW
    assert health_of({"30d": 0.00074}) is Health.GREEN
    assert health_of({"30d": 0.001}) is Health.RED
    assert health_of({"30d": 0.002}) is Health.RED


def test_missing_window_makes_health_unknown_not_green() -> None:
    gap = Missing(MissingKind.NO_DATA, "query returned no series")
    assert health_of(0.0, missing={"5m": gap}) is Health.UNKNOWN


def test_zero_traffic_is_unknown() -> None:
    assert health_of(0.0, total=0.0) is Health.UNKNOWN


def test_evidence_of_red_wins_over_a_silent_window() -> None:
    gap = Missing(MissingKind.NO_DATA, "query returned no series")
    assert health_of({"30d": 0.002}, missing={"5m": gap}) is Health.RED


def _assessed(name: str, health: Health, *, critical: bool = True, complete: bool = True):  # type: ignore[no-untyped-def]
    from canarygate.core.health import JourneyAssessment

    return JourneyAssessment(name, health, critical, 99.9, 1.0, (), None, (), complete)


@pytest.mark.parametrize(
    ("journeys", "expected"),
    [
        ([("a", Health.GREEN, True), ("b", Health.YELLOW, True)], Health.YELLOW),
        ([("a", Health.GREEN, True), ("b", Health.RED, False)], Health.YELLOW),
        ([("a", Health.YELLOW, True), ("b", Health.UNKNOWN, False)], Health.UNKNOWN),
        (
            [("a", Health.GREEN, True), ("b", Health.RED, False), ("c", Health.UNKNOWN, True)],
            Health.UNKNOWN,
        ),
        ([("a", Health.GREEN, True), ("b", Health.UNKNOWN, False)], Health.UNKNOWN),
        ([("a", Health.RED, True), ("b", Health.UNKNOWN, True)], Health.RED),
        ([("a", Health.GREEN, True), ("b", Health.UNKNOWN, True)], Health.UNKNOWN),
        ([("a", Health.GREEN, False)], Health.GREEN),
        ([], Health.UNKNOWN),
    ],
)
def test_combined_health(journeys: list[tuple[str, Health, bool]], expected: Health) -> None:
    assessments = [_assessed(n, h, critical=c) for n, h, c in journeys]
    assert combine_health(assessments) is expected


def test_non_critical_red_on_partial_data_is_unknown_but_critical_red_is_red() -> None:
    partial_red = _assessed("search", Health.RED, critical=False, complete=False)
    assert combine_health([_assessed("a", Health.GREEN), partial_red]) is Health.UNKNOWN
    critical_partial_red = _assessed("checkout", Health.RED, complete=False)
    assert combine_health([_assessed("a", Health.GREEN), critical_partial_red]) is Health.RED
