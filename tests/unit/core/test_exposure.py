"""Proof of exposure: the share of requests the canary served against its route's weight.
Outside the tolerance it holds, never promotes and never counts a pass; far below the weight,
or unmeasurable, it is silence; at 0 % it is not judged; it never rolls back on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Action,
    GateSpec,
    GateState,
    GuardrailSpec,
    Missing,
    MissingKind,
    Observation,
    QueryKey,
    RiskLevel,
    RiskSpec,
    Role,
    decide,
    parse_duration,
    plan_queries,
)
from canarygate.core.decisions import ReasonCode
from canarygate.core.explaining import explain
from canarygate.core.exposure import Exposure, exposure_key, judge_exposure
from canarygate.core.specs import ExposureSpec
from canarygate.core.vocabulary import ACTION_PERMISSIVENESS

from .builders import gate, guardrail_observations, healthy, journey
from .test_properties import Observed, bare, scenarios

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
SPEC = ExposureSpec(canary="canary[{{window}}]", total="total[{{window}}]")
MINUTE = parse_duration("1m")


def served(canary: float | Missing, total: float | Missing) -> dict[QueryKey, Observation]:
    return {exposure_key(Role.EXPOSURE_CANARY): canary, exposure_key(Role.EXPOSURE_TOTAL): total}


def judged(weight: int, canary: float | Missing, total: float | Missing) -> Exposure:
    return judge_exposure(SPEC, weight, MINUTE, served(canary, total)).state


@pytest.mark.parametrize(
    ("weight", "canary", "total", "expected"),
    [
        (25, 250.0, 1000.0, Exposure.PROVEN),
        (25, 125.0, 1000.0, Exposure.PROVEN),  # 12.5 %: the lower bound
        (25, 124.0, 1000.0, Exposure.MISMATCH),
        (25, 375.0, 1000.0, Exposure.PROVEN),
        (25, 400.0, 1000.0, Exposure.MISMATCH),  # more than the route gives it: also evidence
        (25, 21.0, 1000.0, Exposure.SILENT),  # 2.1 %: under a tenth of 25 %
        (25, 0.0, 1000.0, Exposure.SILENT),
        (25, Missing(MissingKind.NO_DATA, "no series"), 1000.0, Exposure.SILENT),
        (25, Missing(MissingKind.UNREACHABLE, "down"), 1000.0, Exposure.UNKNOWN),
        (25, 250.0, Missing(MissingKind.NO_DATA, "no series"), Exposure.UNKNOWN),
        (25, 0.0, 0.0, Exposure.UNKNOWN),  # no requests at all: nothing proves anything
        (25, Missing(MissingKind.NOT_A_NUMBER, "NaN"), 1000.0, Exposure.UNKNOWN),
        (25, -5.0, 1000.0, Exposure.UNKNOWN),  # invalid evidence
        (25, 1200.0, 1000.0, Exposure.UNKNOWN),  # more canary than total: invalid evidence
        (100, 1000.0, 1000.0, Exposure.PROVEN),
        (0, 0.0, 1000.0, Exposure.NOT_JUDGED),
        (0, 300.0, 1000.0, Exposure.NOT_JUDGED),
        (0, 0.0, Missing(MissingKind.UNREACHABLE, "down"), Exposure.NOT_JUDGED),
        (0, 0.0, -1.0, Exposure.NOT_JUDGED),
    ],
)
def test_the_exposure_rule(
    weight: int, canary: float | Missing, total: float | Missing, expected: Exposure
) -> None:
    assert judged(weight, canary, total) is expected


def test_the_findings_say_what_the_route_and_the_canary_did() -> None:
    mismatch = judge_exposure(SPEC, 25, parse_duration("5m"), served(84.0, 1000.0))
    assert mismatch.finding == (
        "route 25%, canary served 8.4% over 5m (outside 12.5% to 37.5%, tolerance ±50%)"
    )
    silent = judge_exposure(SPEC, 25, parse_duration("5m"), served(21.0, 1000.0))
    assert silent.finding.startswith("route 25%, canary served 2.1% over 5m: less than a tenth")
    assert silent.finding.endswith("(silence, not health)")
    invalid = judge_exposure(SPEC, 25, MINUTE, served(1200.0, 1000.0))
    assert invalid.invalid_evidence


def exposed(spec: GateSpec, tolerance: float = 0.5) -> GateSpec:
    return replace(spec, canary=replace(spec.canary, exposure=replace(SPEC, tolerance=tolerance)))


LOW = RiskSpec(RiskLevel.LOW)


def test_an_unexposed_canary_holds_instead_of_advancing_or_promoting() -> None:
    spec = exposed(gate(journey(), risk=LOW, steps=(25, 50)))
    for weight in (25, 50):  # 50 is the last step: it would promote
        observed = {**healthy(spec), **served(weight * 0.2 * 10, 1000.0)}
        decision = decide(spec, GateState(weight=weight, consecutive_passes=1), observed, NOW)
        assert decision.action is Action.HOLD
        assert decision.reasons[0].code is ReasonCode.EXPOSURE
        assert decision.reasons[0].message.startswith(f"hold: route {weight}%, canary served")
        assert decision.state.consecutive_passes == 0  # never counts a pass
    proven = {**healthy(spec), **served(500.0, 1000.0)}
    assert decide(spec, GateState(weight=50), proven, NOW).action is Action.PROMOTE
    lines = explain(spec, decide(spec, GateState(weight=50), proven, NOW))
    assert "exposure (spec.canary.exposure, tolerance ±50%, window 1m): proven" in lines


def test_silent_canary_telemetry_is_silence_and_never_rolls_back() -> None:
    guardrail = GuardrailSpec("errors", "c", max=0.01)
    spec = exposed(gate(journey(), risk=LOW, guardrails=(guardrail,)))
    quiet = {
        **healthy(spec),
        **guardrail_observations("errors", 0.0),
        **served(Missing(MissingKind.NO_DATA, "no series"), 1000.0),
    }
    decision = decide(spec, GateState(weight=25), quiet, NOW)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.EXPOSURE_SILENT
    # A guardrail that measured a failure still rolls back: that is evidence, not silence.
    failing = {**quiet, **guardrail_observations("errors", 0.5)}
    assert decide(spec, GateState(weight=25), failing, NOW).action is Action.ROLLBACK


def test_the_first_step_is_not_held_by_exposure_and_queries_are_planned() -> None:
    spec = exposed(gate(journey(), risk=LOW))
    observed = {**healthy(spec), **served(0.0, 1000.0)}
    decision = decide(spec, GateState(weight=0), observed, NOW)
    assert decision.action is Action.ADVANCE
    assert decision.exposure is not None
    assert decision.exposure.state is Exposure.NOT_JUDGED
    rendered = {q.key.role: q.promql for q in plan_queries(spec) if q.key.subject == "exposure"}
    assert rendered == {Role.EXPOSURE_CANARY: "canary[1m]", Role.EXPOSURE_TOTAL: "total[1m]"}
    windowed = replace(
        spec, canary=replace(spec.canary, exposure=replace(SPEC, window=parse_duration("30s")))
    )
    assert "total[30s]" in {q.promql for q in plan_queries(windowed)}


# -- properties -------------------------------------------------------------------------------

counts = st.one_of(
    st.floats(0, 5000, allow_nan=False),
    st.sampled_from(
        [
            Missing(MissingKind.NO_DATA, "g"),
            Missing(MissingKind.UNREACHABLE, "g"),
            Missing(MissingKind.NOT_A_NUMBER, "g"),
            Missing(MissingKind.QUERY_ERROR, "g"),
            -1.0,
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(
    scenario=scenarios(),
    canary=counts,
    total=counts,
    tolerance=st.sampled_from([0.1, 0.5, 0.9]),
)
def test_exposure_that_is_not_proven_is_never_a_pass_and_never_more_permissive(
    scenario: tuple[GateSpec, GateState, Observed],
    canary: float | Missing,
    total: float | Missing,
    tolerance: float,
) -> None:
    spec, state, observed = bare(*scenario)
    without = decide(spec, state, observed, NOW)
    with_exposure = exposed(spec, tolerance)
    decision = decide(with_exposure, state, {**observed, **served(canary, total)}, NOW)
    assert decision.exposure is not None
    assert ACTION_PERMISSIVENESS[decision.action] <= ACTION_PERMISSIVENESS[without.action]
    if decision.exposure.state is not Exposure.PROVEN and state.weight > 0:
        assert decision.action in (Action.HOLD, Action.ROLLBACK)
        assert decision.state.consecutive_passes == 0
        if decision.action is Action.ROLLBACK:
            assert without.action is Action.ROLLBACK  # only a guardrail's evidence rolls back
    if decision.exposure.state is Exposure.PROVEN or state.weight == 0:
        assert decision.action is without.action
