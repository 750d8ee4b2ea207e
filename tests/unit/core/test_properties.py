"""Invariants of decide(), checked over generated gates, measurements and remembered state."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    DEFAULT_HEALTH_POLICY,
    Action,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    Missing,
    MissingKind,
    Mode,
    Phase,
    QueryKey,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    Role,
    Sample,
    Severity,
    Verdict,
    decide,
    plan_queries,
)
from canarygate.core.vocabulary import ACTION_PERMISSIVENESS

from .builders import gate, journey

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
WINDOWS = [w.text for w in DEFAULT_HEALTH_POLICY.windows()] + ["30d"]
STEPS = (5, 10, 25, 50, 100)

missing = st.sampled_from([Missing(kind, "generated") for kind in MissingKind])


@st.composite
def gates(draw: st.DrawFn) -> GateSpec:
    count = draw(st.integers(1, 3))
    journeys = tuple(
        journey(f"j{i}", draw(st.sampled_from([99.0, 99.5, 99.9])), critical=draw(st.booleans()))
        for i in range(count)
    )
    guardrails = tuple(
        GuardrailSpec(
            name=f"g{i}",
            canary="c",
            max=0.01,
            samples="n" if draw(st.booleans()) else None,
            min_samples=100,
            severity=draw(st.sampled_from(list(Severity))),
            failure_limit=draw(st.integers(1, 3)),
        )
        for i in range(draw(st.integers(0, 2)))
    )
    guardrails = tuple(
        g if g.samples else GuardrailSpec(g.name, g.canary, max=g.max, severity=g.severity,
                                          failure_limit=g.failure_limit)
        for g in guardrails
    )  # fmt: skip
    factors = RiskFactors(customer_neutral=draw(st.booleans()), reversible=draw(st.booleans()))
    level = draw(st.sampled_from([RiskLevel.LOW, RiskLevel.HIGH]))
    return gate(*journeys, steps=STEPS, guardrails=guardrails, risk=RiskSpec(level, factors))


# Error ratios as multiples of a 99.9 % budget, spread so that every health level is common.
BUDGET_MULTIPLES = [0.0, 0.0, 0.0, 0.1, 0.5, 1.2, 2.0, 4.0, 8.0, 20.0]


@st.composite
def measurements(
    draw: st.DrawFn, spec: GateSpec, allow_missing: bool = True
) -> dict[QueryKey, Sample]:
    # Most scenarios have complete data; missing values are rare so that known health is common.
    missing_rate = draw(st.sampled_from([0, 0, 20, 5])) if allow_missing else 0
    level = {j.name: draw(st.sampled_from(BUDGET_MULTIPLES)) for j in spec.journeys}
    found: dict[QueryKey, Sample] = {}
    for query in plan_queries(spec):
        key = query.key
        if missing_rate and draw(st.integers(0, missing_rate - 1)) == 0:
            found[key] = draw(missing)
        elif key.role is Role.TOTAL:
            found[key] = 1000.0
        elif key.role is Role.GOOD:
            jitter = draw(st.sampled_from([0.5, 1.0, 1.0, 2.0]))
            ratio = min(1.0, level[key.subject] * jitter * 0.001)
            found[key] = 1000.0 * (1 - ratio)
        elif key.role is Role.SAMPLES:
            found[key] = draw(st.sampled_from([10.0, 500.0]))
        else:
            found[key] = draw(st.sampled_from([0.0, 0.005, 0.005, 0.02]))
    return found


@st.composite
def states(draw: st.DrawFn, spec: GateSpec) -> GateState:
    return GateState(
        weight=draw(st.sampled_from((0, *STEPS))),
        phase=draw(st.sampled_from([Phase.PENDING, Phase.PROGRESSING])),
        consecutive_passes=draw(st.integers(0, 1)),
        guardrail_failures={g.name: draw(st.integers(0, 2)) for g in spec.canary.guardrails},
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GateSpec, GateState, dict[QueryKey, Sample]]:
    spec = draw(gates())
    return spec, draw(states(spec)), draw(measurements(spec))


@settings(max_examples=600, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_a_worse_sli_never_yields_a_more_permissive_action(
    scenario: tuple[GateSpec, GateState, dict[QueryKey, Sample]], data: st.DataObject
) -> None:
    spec, state, observed = scenario
    worse = dict(observed)
    for key, value in observed.items():
        if key.role is Role.GOOD and isinstance(value, float):
            extra = data.draw(st.sampled_from([0.0, 0.0, 0.0005, 0.002, 0.01]), label=str(key))
            worse[key] = value * (1 - extra)
    better_action = decide(spec, state, observed, NOW).action
    worse_action = decide(spec, state, worse, NOW).action
    assert ACTION_PERMISSIVENESS[worse_action] <= ACTION_PERMISSIVENESS[better_action]


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_unknown_health_never_advances_or_promotes(
    scenario: tuple[GateSpec, GateState, dict[QueryKey, Sample]],
) -> None:
    spec, state, observed = scenario
    decision = decide(spec, state, observed, NOW)
    if decision.health is Health.UNKNOWN:
        assert decision.action in (Action.HOLD, Action.ROLLBACK)
        assert decision.weight_next in (state.weight, 0)
        if decision.action is Action.ROLLBACK:
            # Only evidence rolls back: a guardrail that measured a failure to its limit.
            assert any(g.verdict is Verdict.FAIL and g.limit_reached for g in decision.guardrails)


@settings(max_examples=200, deadline=None)
@given(spec=gates(), data=st.data())
def test_silence_alone_never_rolls_back(spec: GateSpec, data: st.DataObject) -> None:
    state = data.draw(states(spec))
    kind = data.draw(st.sampled_from(list(MissingKind)))
    observed = {q.key: Missing(kind, "silence") for q in plan_queries(spec)}
    decision = decide(spec, state, observed, NOW)
    assert decision.action is Action.HOLD
    assert decision.weight_next == state.weight


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_promote_happens_only_after_the_last_step(
    scenario: tuple[GateSpec, GateState, dict[QueryKey, Sample]],
) -> None:
    spec, state, observed = scenario
    decision = decide(spec, state, observed, NOW)
    if decision.action is Action.PROMOTE:
        assert state.weight >= spec.canary.last_step
    if decision.action is Action.ADVANCE:
        assert decision.weight_next in spec.canary.steps
        assert decision.weight_next > state.weight


@settings(max_examples=300, deadline=None)
@given(spec=gates(), data=st.data())
def test_a_green_high_risk_step_needs_two_consecutive_passes(
    spec: GateSpec, data: st.DataObject
) -> None:
    state = data.draw(states(spec))
    fresh = GateState(state.weight, state.phase, 0, state.guardrail_failures)
    observed = data.draw(measurements(spec, allow_missing=False))
    first = decide(spec, fresh, observed, NOW)
    if first.mode is Mode.GUARDED:
        assert first.action not in (Action.ADVANCE, Action.PROMOTE)
        if first.state.consecutive_passes == 1:
            second = decide(spec, first.state, observed, NOW)
            assert second.action in (Action.ADVANCE, Action.PROMOTE)


def _corrupt(value: Sample, how: str) -> float:
    """An impossible measurement derived from a real one."""
    base = value if isinstance(value, float) else 1000.0
    return {"negative": -abs(base) - 1.0, "inflated": abs(base) * 1.05 + 1.0}[how]


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_invalid_journey_evidence_never_moves_traffic_on_its_own(
    scenario: tuple[GateSpec, GateState, dict[QueryKey, Sample]], data: st.DataObject
) -> None:
    spec, state, observed = scenario
    journey_keys = sorted(
        (k for k in observed if k.window is not None), key=lambda k: (k.subject, k.role, k.window)
    )
    key = data.draw(st.sampled_from(journey_keys))
    # Negative counts anywhere, or good inflated above total: both are impossible.
    how = data.draw(
        st.sampled_from(["negative", "inflated"] if key.role is Role.GOOD else ["negative"])
    )
    corrupted = {**observed, key: _corrupt(observed[key], how)}
    decision = decide(spec, state, corrupted, NOW)
    assert decision.action not in (Action.ADVANCE, Action.PROMOTE)
    if decision.action is Action.ROLLBACK:
        assert any(g.limit_reached for g in decision.guardrails)
    assert decision.health is not Health.GREEN


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_invalid_guardrail_evidence_is_never_a_pass(
    scenario: tuple[GateSpec, GateState, dict[QueryKey, Sample]], data: st.DataObject
) -> None:
    spec, state, observed = scenario
    guardrail_keys = [k for k in observed if k.window is None]
    if not guardrail_keys:
        return
    key = data.draw(st.sampled_from(sorted(guardrail_keys, key=lambda k: (k.subject, k.role))))
    corrupted = {**observed, key: _corrupt(observed[key], "negative")}
    decision = decide(spec, state, corrupted, NOW)
    judged = next(g for g in decision.guardrails if g.name == key.subject)
    assert judged.verdict is not Verdict.PASS
    if state.weight > 0:
        assert decision.action not in (Action.ADVANCE, Action.PROMOTE)
