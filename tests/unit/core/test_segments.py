"""Segmented journeys: the canary that hurts one region is red while the journey as a whole is
green; tiny segments cannot turn a gate red; silence and invalid evidence hold per segment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    Decision,
    GateSpec,
    GateState,
    Health,
    Missing,
    MissingKind,
    Mode,
    Observation,
    QueryKey,
    Role,
    Segmented,
    decide,
)
from canarygate.core.decisions import ReasonCode

from .builders import gate, healthy, journey
from .segment_builders import Traffic, segment_observations, segmented_journey

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
RED_NOW = {"5m": 0.05, "30m": 0.05, "1h": 0.05}  # 5 % errors for the last hour: burn 50
CALM = 0.0001


def evaluate(spec: GateSpec, observed: dict[QueryKey, Observation], weight: int = 25) -> Decision:
    return decide(spec, GateState(weight=weight), observed, NOW)


def regions(eu_west: Traffic, **others: Traffic) -> dict[str, Traffic]:
    return {"eu-west": eu_west, "us-east": (CALM, 600.0), "us-west": (CALM, 350.0), **others}


def test_one_region_red_while_the_journey_as_a_whole_is_green() -> None:
    spec = gate(segmented_journey())
    decision = evaluate(spec, segment_observations(spec, "checkout", regions((RED_NOW, 50.0))))
    (checkout,) = decision.journeys
    assert checkout.overall is Health.GREEN
    assert checkout.burn_rate_map()["1h"] == pytest.approx(2.6, rel=0.01)  # the aggregate
    assert checkout.health is Health.RED
    assert (decision.health, decision.mode, decision.action) == (
        Health.RED,
        Mode.FREEZE,
        Action.HOLD,
    )
    worst = checkout.segments[0]
    assert (worst.name, worst.health) == ("region eu-west", Health.RED)
    assert worst.burn_rate_map()["1h"] == pytest.approx(50, rel=0.01)
    assert worst.share == pytest.approx(0.05)
    (reason,) = [r.message for r in decision.reasons if r.code is ReasonCode.SEGMENT]
    assert reason.startswith(
        "journey checkout red in region eu-west (burn 50 over 1h), green overall: "
        "burn rate 50 over 1h and 50 over 5m (threshold 14.4)"
    )


def test_the_same_traffic_unsegmented_is_green() -> None:
    """What every peer sees: the aggregate alone."""
    plain = gate(journey())
    segmented = gate(segmented_journey())
    observed = segment_observations(segmented, "checkout", regions((RED_NOW, 50.0)))
    summed: dict[QueryKey, Observation] = {
        key: sum(value.values.values()) if isinstance(value, Segmented) else value
        for key, value in observed.items()
    }
    assert evaluate(plain, summed).health is Health.GREEN


def test_a_tiny_segment_with_errors_cannot_turn_the_gate_red() -> None:
    spec = gate(segmented_journey())
    # Three requests in ten thousand, one failing: burn 333 in that segment.
    traffic = {"eu-west": (CALM, 6000.0), "us-east": (CALM, 4000.0), "ap-south": (1 / 3, 3.0)}
    decision = evaluate(spec, segment_observations(spec, "checkout", traffic))
    (checkout,) = decision.journeys
    assert decision.health is Health.GREEN
    assert decision.action is Action.ADVANCE
    assert {s.name for s in checkout.segments} == {"region eu-west", "region us-east"}
    assert checkout.segments_ignored == 1


def test_a_lower_minimum_share_judges_the_tiny_segment() -> None:
    spec = gate(segmented_journey(min_share=0.0001))
    traffic = {"eu-west": (CALM, 6000.0), "us-east": (CALM, 4000.0), "ap-south": (1 / 3, 3.0)}
    decision = evaluate(spec, segment_observations(spec, "checkout", traffic))
    assert decision.health is Health.RED
    assert decision.journeys[0].segments[0].name == "region ap-south"


def test_a_segment_objective_stricter_than_the_journeys() -> None:
    tiers = {"enterprise": (0.0004, 200.0), "free": (0.0002, 800.0)}
    lenient = gate(segmented_journey())
    strict = gate(segmented_journey(objectives={"enterprise": 99.99}))
    assert (
        evaluate(lenient, segment_observations(lenient, "checkout", tiers)).health is Health.GREEN
    )
    decision = evaluate(strict, segment_observations(strict, "checkout", tiers))
    assert decision.health is Health.RED  # burn 4 for a month: the budget is overspent
    enterprise = decision.journeys[0].segments[0]
    assert (enterprise.name, enterprise.objective_percent) == ("region enterprise", 99.99)
    assert enterprise.budget_remaining == pytest.approx(-3, rel=0.01)
    segment_reason = next(r.message for r in decision.reasons if r.code is ReasonCode.SEGMENT)
    assert "objective 99.99%" in segment_reason


def test_a_judged_segment_without_good_series_is_silence() -> None:
    spec = gate(segmented_journey())
    observed = segment_observations(spec, "checkout", regions((CALM, 50.0)))
    for key, value in list(observed.items()):
        if key.role is Role.GOOD and key.window is not None and key.window.text == "5m":
            assert isinstance(value, Segmented)
            kept = {s: v for s, v in value.values.items() if s != ("eu-west",)}
            observed[key] = Segmented(value.labels, kept)
    decision = evaluate(spec, observed)
    eu = next(s for s in decision.journeys[0].segments if s.name == "region eu-west")
    assert eu.health is Health.UNKNOWN
    assert not eu.complete
    assert (decision.health, decision.action) == (Health.UNKNOWN, Action.HOLD)


def test_a_region_gone_dark_is_silence_not_green() -> None:
    """A segment that carried traffic and has none in the short windows: as an idle journey."""
    spec = gate(segmented_journey())
    observed = segment_observations(spec, "checkout", regions((CALM, 50.0)))
    for key, value in list(observed.items()):
        if (
            key.window is not None
            and key.window.text in ("5m", "30m")
            and isinstance(value, Segmented)
        ):
            observed[key] = Segmented(
                value.labels, {s: v for s, v in value.values.items() if s != ("eu-west",)}
            )
    decision = evaluate(spec, observed)
    assert decision.journeys[0].overall is Health.GREEN
    assert (decision.health, decision.action) == (Health.UNKNOWN, Action.HOLD)


def test_nan_in_one_segment_is_silence() -> None:
    spec = gate(segmented_journey())
    observed = segment_observations(spec, "checkout", regions((CALM, 50.0)))
    key = next(k for k in observed if k.role is Role.GOOD and k.window and k.window.text == "1h")
    value = observed[key]
    assert isinstance(value, Segmented)
    observed[key] = Segmented(value.labels, {**value.values, ("eu-west",): float("nan")})
    decision = evaluate(spec, observed)
    assert decision.health is Health.UNKNOWN
    assert decision.action is Action.HOLD


@pytest.mark.parametrize("total", [50.0, 2.0], ids=["judged", "tiny"])
def test_good_above_total_in_one_segment_is_invalid_evidence_whatever_its_size(
    total: float,
) -> None:
    spec = gate(segmented_journey())
    # Other regions carry errors, so that the journey as a whole stays valid and green.
    traffic = {"eu-west": (CALM, total), "us-east": (0.0005, 950.0)}
    observed = segment_observations(spec, "checkout", traffic)
    for key, value in list(observed.items()):
        if key.role is Role.GOOD and isinstance(value, Segmented):
            inflated = total * 1.002  # 0.2 % more good events than events: impossible
            observed[key] = Segmented(value.labels, {**value.values, ("eu-west",): inflated})
    decision = evaluate(spec, observed)
    (checkout,) = decision.journeys
    assert checkout.overall is Health.GREEN
    assert checkout.health is Health.UNKNOWN
    assert decision.action is Action.HOLD
    invalid = [r.message for r in decision.reasons if r.code is ReasonCode.INVALID_EVIDENCE]
    assert invalid
    assert all("journey checkout in region eu-west over" in text for text in invalid)


def test_red_in_one_segment_wins_over_silence_in_another() -> None:
    spec = gate(segmented_journey())
    observed = segment_observations(spec, "checkout", regions((RED_NOW, 50.0)))
    key = next(k for k in observed if k.role is Role.GOOD and k.window and k.window.text == "1d")
    value = observed[key]
    assert isinstance(value, Segmented)
    observed[key] = Segmented(
        value.labels, {s: v for s, v in value.values.items() if s != ("us-west",)}
    )
    assert evaluate(spec, observed).health is Health.RED


def test_a_segmented_non_critical_journey_counts_at_most_as_yellow() -> None:
    spec = gate(journey("login"), segmented_journey(critical=False))
    observed = {
        **healthy(gate(journey("login"))),
        **segment_observations(spec, "checkout", regions((RED_NOW, 50.0))),
    }
    decision = evaluate(spec, observed)
    assert decision.journeys[1].health is Health.RED
    assert decision.health is Health.YELLOW
    segment_reason = next(r.message for r in decision.reasons if r.code is ReasonCode.SEGMENT)
    assert "non-critical" in segment_reason


def test_a_whole_query_missing_is_the_journeys_silence() -> None:
    spec = gate(segmented_journey())
    observed = segment_observations(spec, "checkout", regions((CALM, 50.0)))
    key = next(k for k in observed if k.role is Role.TOTAL and k.window and k.window.text == "5m")
    observed[key] = Missing(MissingKind.NO_DATA, "query returned no series")
    decision = evaluate(spec, observed)
    assert decision.journeys[0].overall is Health.UNKNOWN
    assert decision.action is Action.HOLD
