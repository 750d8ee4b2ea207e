"""Status names the worst segments and the success metrics, within the CRD's status schema,
and a new worst segment is significant enough to be written at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from canarygate.api.status import evidence, significant
from canarygate.api.v1alpha1 import CanaryGateStatusModel
from canarygate.core import Decision, GateState, decide
from tests.unit.core.builders import gate
from tests.unit.core.segment_builders import (
    segment_observations,
    segmented_guardrail,
    segmented_journey,
    success_metric,
    success_observations,
    tier_observations,
)

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
RED = {"5m": 0.05, "30m": 0.05, "1h": 0.05}
CALM = 0.0001


def decision(red_region: str = "eu-west") -> Decision:
    spec = gate(segmented_journey(), guardrails=(segmented_guardrail(),))
    spec = replace(spec, canary=replace(spec.canary, success_metrics=(success_metric(),)))
    regions = dict.fromkeys(("eu-west", "us-east", "us-west", "ap-south"), (CALM, 200.0))
    regions[red_region] = (RED, 200.0)
    observed = {
        **segment_observations(spec, "checkout", regions),
        **tier_observations("errors", {"free": (0.001, 0.001, 500.0), "pro": (0.03, 0.001, 500.0)}),
        **success_observations("conversion", 0.055, 0.05),
    }
    return decide(spec, GateState(weight=25), observed, NOW)


def test_status_names_the_worst_segments_and_the_success_metrics() -> None:
    found = evidence(decision())
    (journey,) = found["journeys"]
    assert (journey["health"], journey["overall"], journey["segmentBy"]) == (
        "red",
        "green",
        ["region"],
    )
    assert len(journey["segments"]) == 3  # the worst three of four
    assert (journey["segmentsJudged"], journey["segmentsIgnored"]) == (4, 0)
    worst = journey["segments"][0]
    assert (worst["segment"], worst["health"], worst["objective"]) == (
        {"region": "eu-west"},
        "red",
        99.9,
    )
    assert worst["burnRates"]["1h"] == 50.0
    assert worst["share"] == 0.25
    (guardrail,) = found["guardrails"]
    assert guardrail["segments"][0] == {
        "segment": {"tier": "pro"},
        "verdict": "fail",
        "canary": 0.03,
        "baseline": 0.001,
        "samples": 500.0,
    }
    assert found["successMetrics"] == [
        {
            "name": "conversion",
            "verdict": "better",
            "lift": 0.1,
            "canary": 0.055,
            "baseline": 0.05,
            "samples": 5000.0,
            "baselineSamples": 20000.0,
        }
    ]
    assert any("red in region eu-west (burn 50 over 1h)" in r for r in found["reasons"])


def test_the_status_fits_the_status_schema() -> None:
    """What the operator writes is what the CRD (and so its pydantic mirror) describes."""
    found: dict[str, Any] = evidence(decision())
    parsed = CanaryGateStatusModel.model_validate(found)
    assert parsed.journeys is not None
    assert parsed.journeys[0].segments is not None
    assert parsed.success_metrics is not None
    assert parsed.success_metrics[0].lift == 0.1


def test_a_new_worst_segment_is_significant() -> None:
    eu, us = evidence(decision("eu-west")), evidence(decision("us-east"))
    assert eu["journeys"][0]["health"] == us["journeys"][0]["health"] == "red"
    assert significant(eu) != significant(us)
    assert significant(eu) == significant(evidence(decision("eu-west")))
