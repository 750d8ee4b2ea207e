"""`--explain`: the rules, windows and numbers that decided, told from the spec and the Decision."""

from __future__ import annotations

from datetime import UTC, datetime

from canarygate.core import GateState, Missing, MissingKind, QueryKey, Role, decide
from canarygate.core.explaining import explain
from canarygate.core.specs import CanarySpec, GateSpec, GuardrailSpec
from canarygate.core.vocabulary import Phase

from .builders import gate, guardrail_observations, healthy, journey, journey_observations
from .segment_builders import (
    BY_TIER,
    segment_observations,
    segmented_guardrail,
    segmented_journey,
    success_metric,
    success_observations,
    tier_observations,
)

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
AT_25 = GateState(weight=25, phase=Phase.PROGRESSING)


def lines_of(
    spec: GateSpec, observations: dict[QueryKey, object], state: GateState = AT_25
) -> list[str]:
    decision = decide(spec, state, observations, NOW)  # type: ignore[arg-type]
    return list(explain(spec, decision))


def test_a_red_journey_names_each_rule_with_both_windows() -> None:
    spec = gate()
    observations = journey_observations(spec, "checkout", 0.02)  # burn 20 everywhere
    lines = lines_of(spec, observations)
    assert lines[0] == "decided hold (25% -> 25%) by precedence rule 6 (the mode does not advance)"
    assert "  red if burn >= 14.4 over both 1h and 5m: 1h 20, 5m 20 -> YES" in lines
    assert "  yellow if burn >= 3 over both 1d and 2h: 1d 20, 2h 20 -> YES" in lines
    assert any(line.startswith("mode freeze: red x low in the default matrix") for line in lines)


def test_a_silent_window_cannot_tell_and_silence_is_named() -> None:
    spec = gate()
    silent = {"5m": Missing(MissingKind.NO_DATA, "query returned no series")}
    lines = lines_of(spec, journey_observations(spec, "checkout", missing=silent))
    assert (
        "  red if burn >= 14.4 over both 1h and 5m: 1h 0, 5m - -> cannot tell (no usable data)"
        in lines
    )
    assert lines[-1] == "silence never advances, promotes or rolls back on its own"


def test_invalid_evidence_is_named_with_its_numbers() -> None:
    spec = gate()
    observations = journey_observations(spec, "checkout")
    observations[QueryKey("checkout", Role.GOOD, spec.health.red.burn_rates[0].short)] = 2000.0
    lines = lines_of(spec, observations)
    assert any(
        line.startswith("  invalid evidence over 5m: good 2000 > total 1000") for line in lines
    )


def test_a_guardrail_shows_its_values_against_its_limits() -> None:
    rail = GuardrailSpec(
        "errors", "c", baseline="b", max=0.01, max_increase=0.005, samples="n", min_samples=100
    )
    spec = GateSpec(
        journeys=(journey(),), canary=CanarySpec(steps=(5, 10, 25, 50, 100), guardrails=(rail,))
    )
    lines = lines_of(
        spec, {**healthy(spec), **guardrail_observations("errors", 0.05, 0.001, 500.0)}
    )
    assert lines[0].startswith("decided rollback (25% -> 0%) by precedence rule 2")
    assert "  samples 500 vs minSamples 100 -> enough" in lines
    assert "  canary 0.05 vs max 0.01 -> OVER" in lines
    assert "  canary - baseline = 0.05 - 0.001 = 0.049 vs maxIncrease 0.005 -> OVER" in lines


def test_a_segmented_journey_explains_the_segment_that_decided() -> None:
    spec = gate(segmented_journey())
    burst = {"5m": 0.05, "1h": 0.05}  # eu-west burns at 50 over the hour, nowhere else
    traffic = {"us-east": (0.0, 9000.0), "eu-west": (burst, 500.0), "ap-south": (0.5, 2.0)}
    lines = lines_of(spec, segment_observations(spec, "checkout", traffic))
    text = "\n".join(lines)
    assert "journey checkout (critical, objective 99.9%" in text
    assert "): red" in text
    assert lines.index("  over all traffic: green; the journey is the worst of its whole traffic "
                       "and its judged segments (by region)") > 0  # fmt: skip
    assert (
        "  segments: 2 judged, 1 too small to judge (below minSegmentShare 1.00% of the "
        "journey's events in every window)"
    ) in lines
    assert "  segment region eu-west (objective 99.9%, largest share of events 5.26%): red" in lines
    assert "    red if burn >= 14.4 over both 1h and 5m: 1h 50, 5m 50 -> YES" in lines
    assert "ap-south" not in text  # too small: not judged, not explained
    assert "  and 1 more judged segment(s), not worse (see -o json)" in lines


def test_a_stricter_segment_objective_is_the_one_shown() -> None:
    spec = gate(segmented_journey(by=BY_TIER, objectives={"enterprise": 99.99}))
    traffic = {"free": (0.0002, 8000.0), "enterprise": (0.0004, 2000.0)}
    lines = lines_of(spec, segment_observations(spec, "checkout", traffic))
    assert any(line.startswith("  segment tier enterprise (objective 99.99%") for line in lines)


def test_a_segmented_guardrail_says_whose_values_are_shown() -> None:
    spec = GateSpec(
        journeys=(journey(),),
        canary=CanarySpec(steps=(5, 10, 25, 50, 100), guardrails=(segmented_guardrail(),)),
    )
    tiers = {"free": (0.001, 0.001, 1000.0), "enterprise": (0.08, 0.001, 120.0)}
    lines = lines_of(spec, {**healthy(spec), **tier_observations("errors", tiers)})
    assert (
        "  per tier: 2 segment(s) judged, 0 with too few samples; the values below are the "
        "worst segment's (tier enterprise)"
    ) in lines
    assert "  canary 0.08 vs max 0.02 -> OVER" in lines


def test_a_success_metric_explains_its_lift_and_what_it_decides() -> None:
    spec = GateSpec(
        journeys=(journey(),),
        canary=CanarySpec(steps=(5, 10, 25, 50), success_metrics=(success_metric(),)),
    )
    worse = {**healthy(spec), **success_observations("conversion", 0.045, 0.05)}
    at_last = lines_of(spec, worse, GateState(weight=50, phase=Phase.PROGRESSING))
    assert at_last[0].startswith("decided hold (50% -> 50%) by precedence rule 8 (the last step")
    assert "success metric conversion (higher is better, margin 1.0%): worse" in at_last
    assert "  samples canary 5000, baseline 2e+04 vs minSamples 1000" in at_last
    assert (
        "  lift -10.00% (canary 0.045, baseline 0.05): worse below -1.0%, better above +1.0%, "
        "else flat"
    ) in at_last
    assert (
        "  at the last step: holds promotion until a person approves it (canarygate approve); "
        "a success metric never rolls back"
    ) in at_last
    before = lines_of(spec, worse, GateState(weight=10, phase=Phase.PROGRESSING))
    assert before[0].startswith("decided advance (10% -> 25%)")
    assert "  before the last step a success metric never holds the canary" in before
