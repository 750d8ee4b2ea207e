"""Invariants of decide(), checked over generated gates, measurements and remembered state.

Gates are drawn with and without segments (journeys and guardrails judged per region or
tier, with a tiny segment under the minimum share among them) and success metrics, so every
invariant holds for them too; the last tests are about segments and success metrics alone.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    DEFAULT_HEALTH_POLICY,
    Action,
    Direction,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    JourneySegments,
    Lift,
    Missing,
    MissingKind,
    Mode,
    Observation,
    Phase,
    QueryKey,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    Role,
    Segment,
    Segmentation,
    Segmented,
    Severity,
    SuccessMetricSpec,
    Verdict,
    decide,
    plan_queries,
)
from canarygate.core.controls import Controls
from canarygate.core.decisions import ReasonCode
from canarygate.core.durations import parse_duration
from canarygate.core.observations import SUCCESS_ROLES
from canarygate.core.presets import preset_rule
from canarygate.core.specs import BurnCondition, CombinedRule, ExposureSpec
from canarygate.core.vocabulary import ACTION_PERMISSIVENESS, RuleSeverity, WindowEffect
from canarygate.core.windows import TimeWindow

from .builders import gate, journey

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
WINDOWS = [w.text for w in DEFAULT_HEALTH_POLICY.windows()] + ["30d"]
STEPS = (5, 10, 25, 50, 100)
BY_REGION = Segmentation(("region",))
BY_TIER = Segmentation(("tier",))
# Events per window of each region: r2 is tiny (3 in at least 1,403: under the 1 % minimum).
REGION_EVENTS = {"r0": 1000.0, "r1": 400.0, "r2": 3.0}
JUDGED_REGIONS = ("r0", "r1")
TIERS = ("t0", "t1")

missing = st.sampled_from([Missing(kind, "generated") for kind in MissingKind])
Observed = dict[QueryKey, Observation]


SEGMENTED = [
    JourneySegments(BY_REGION),
    JourneySegments(BY_REGION, objectives=(("r1", 99.95),)),
]


@st.composite
def gates(draw: st.DrawFn, segmented: bool = False) -> GateSpec:
    """A gate; with `segmented`, its first journey is segmented by region."""
    count = draw(st.integers(1, 3))
    journeys = tuple(
        journey(
            f"j{i}",
            draw(st.sampled_from([99.0, 99.5, 99.9])),
            critical=draw(st.booleans()),
            segments=draw(
                st.sampled_from(SEGMENTED if segmented and i == 0 else [None, None, *SEGMENTED])
            ),
        )
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
            segments=draw(st.sampled_from([None, None, BY_TIER])),
        )
        for i in range(draw(st.integers(0, 2)))
    )
    guardrails = tuple(g if g.samples else replace(g, min_samples=None) for g in guardrails)
    metrics = tuple(
        SuccessMetricSpec(
            f"m{i}", "c", "b", draw(st.sampled_from(list(Direction))), samples="n",
            min_samples=1000,
        )
        for i in range(draw(st.integers(0, 1)))
    )  # fmt: skip
    factors = RiskFactors(customer_neutral=draw(st.booleans()), reversible=draw(st.booleans()))
    level = draw(st.sampled_from([RiskLevel.LOW, RiskLevel.HIGH]))
    # Combined health rules (spec.health.rules) on some gates: a paging preset, a ticket rule.
    rules = draw(st.sampled_from([(), (), RULES[:1], RULES]))
    health = replace(DEFAULT_HEALTH_POLICY, rules=rules)
    spec = gate(
        *journeys, steps=STEPS, guardrails=guardrails, risk=RiskSpec(level, factors), health=health
    )
    # Proof of exposure on some gates, and rarely a window (decided here without the local
    # time, so it counts as in force).
    exposure = draw(st.sampled_from([None, None, EXPOSURE]))
    windows = draw(st.sampled_from([(), (), (), (), *((w,) for w in WINDOWS_DRAWN)]))
    return replace(
        spec,
        canary=replace(spec.canary, success_metrics=metrics, exposure=exposure),
        policy=replace(spec.policy, windows=windows),
    )


EXPOSURE_ROLES = (Role.EXPOSURE_CANARY, Role.EXPOSURE_TOTAL)
EXPOSURE = ExposureSpec("canary[{{window}}]", "total[{{window}}]")
WINDOWS_DRAWN = (
    TimeWindow("peak", WindowEffect.HIGH_RISK, "UTC", 18 * 60, 22 * 60),
    TimeWindow("freeze", WindowEffect.FREEZE, "UTC"),
)
RULES = (
    preset_rule("burn4x-budget25", name="page"),
    CombinedRule("ticket", RuleSeverity.TICKET, (BurnCondition(parse_duration("6h"), 1.0),), 0.5),
)


# Error ratios as multiples of a 99.9 % budget, spread so that every health level is common.
BUDGET_MULTIPLES = [0.0, 0.0, 0.0, 0.1, 0.5, 1.2, 2.0, 4.0, 8.0, 20.0]


@st.composite
def measurements(draw: st.DrawFn, spec: GateSpec, allow_missing: bool = True) -> Observed:
    # Most scenarios have complete data; missing values are rare so that known health is common.
    missing_rate = draw(st.sampled_from([0, 0, 20, 5])) if allow_missing else 0

    def rarely_missing() -> bool:
        return bool(missing_rate) and draw(st.integers(0, missing_rate - 1)) == 0

    def good_events(level: float, total: float, jitter: float) -> float:
        return total * (1 - min(1.0, level * jitter * 0.001))

    jitters = st.sampled_from([0.5, 1.0, 1.0, 2.0])
    level = {j.name: draw(st.sampled_from(BUDGET_MULTIPLES)) for j in spec.journeys}
    # Per segmented journey: each region's level, and at most one region whose answer has a
    # gap (absent, or NaN) in one window, drawn once rather than per value.
    region_level = {
        (j.name, region): draw(st.sampled_from(BUDGET_MULTIPLES))
        for j in spec.journeys
        if j.segments
        for region in REGION_EVENTS
    }
    gaps = {
        j.name: (
            draw(st.sampled_from(sorted(REGION_EVENTS))),
            draw(st.sampled_from(WINDOWS)),
            draw(st.sampled_from([Role.GOOD, Role.TOTAL])),
            draw(st.sampled_from(["absent", "nan"])),
        )
        for j in spec.journeys
        if j.segments and rarely_missing()
    }
    found: Observed = {}
    for query in plan_queries(spec):
        key = query.key
        if rarely_missing():
            found[key] = draw(missing)
        elif query.segmentation is not None and key.window is not None:
            jitter = draw(jitters)
            values: dict[Segment, float] = {}
            for region, events in REGION_EVENTS.items():
                values[(region,)] = (
                    events
                    if key.role is Role.TOTAL
                    else good_events(region_level[(key.subject, region)], events, jitter)
                )
            gap = gaps.get(key.subject)
            if gap and (gap[1], gap[2]) == (key.window.text, key.role):
                if gap[3] == "absent":
                    values.pop((gap[0],))
                else:
                    values[(gap[0],)] = float("nan")
            found[key] = Segmented(BY_REGION.labels, values)
        elif query.segmentation is not None:
            found[key] = Segmented(
                BY_TIER.labels, {(tier,): _guardrail_value(draw, key.role) for tier in TIERS}
            )
        elif key.role is Role.TOTAL:
            found[key] = 1000.0
        elif key.role is Role.GOOD:
            found[key] = good_events(level[key.subject], 1000.0, draw(jitters))
        else:
            found[key] = _guardrail_value(draw, key.role)
    return found


def _guardrail_value(draw: st.DrawFn, role: Role) -> float:
    if role is Role.EXPOSURE_TOTAL:
        return draw(st.sampled_from([1000.0, 1000.0, 1000.0, 0.0]))
    if role is Role.EXPOSURE_CANARY:
        return draw(st.sampled_from([0.0, 20.0, 50.0, 100.0, 250.0, 500.0, 1000.0]))
    if role in (Role.SAMPLES, Role.SUCCESS_SAMPLES, Role.SUCCESS_BASELINE_SAMPLES):
        return draw(st.sampled_from([10.0, 500.0, 5000.0]))
    if role in (Role.SUCCESS_CANARY, Role.SUCCESS_BASELINE):
        return draw(st.sampled_from([0.04, 0.05, 0.0502, 0.06]))
    return draw(st.sampled_from([0.0, 0.005, 0.005, 0.02]))


@st.composite
def states(draw: st.DrawFn, spec: GateSpec) -> GateState:
    return GateState(
        weight=draw(st.sampled_from((0, *STEPS))),
        phase=draw(st.sampled_from([Phase.PENDING, Phase.PROGRESSING])),
        consecutive_passes=draw(st.integers(0, 1)),
        guardrail_failures={g.name: draw(st.integers(0, 2)) for g in spec.canary.guardrails},
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[GateSpec, GateState, Observed]:
    spec = draw(gates())
    return spec, draw(states(spec)), draw(measurements(spec))


def bare(
    spec: GateSpec, state: GateState, observed: Observed
) -> tuple[GateSpec, GateState, Observed]:
    """The scenario without exposure and windows (for tests that add their own)."""
    spec = replace(
        spec,
        canary=replace(spec.canary, exposure=None),
        policy=replace(spec.policy, windows=()),
    )
    keys = {q.key for q in plan_queries(spec)}
    return spec, state, {k: v for k, v in observed.items() if k in keys}


def _scaled(value: Observation, factor: float) -> Observation:
    if isinstance(value, Segmented):
        return Segmented(value.labels, {s: v * factor for s, v in value.values.items()})
    if isinstance(value, float):
        return value * factor
    return value


@settings(max_examples=600, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_a_worse_sli_never_yields_a_more_permissive_action(
    scenario: tuple[GateSpec, GateState, Observed], data: st.DataObject
) -> None:
    spec, state, observed = scenario
    worse = dict(observed)
    for key, value in observed.items():
        if key.role is Role.GOOD:
            extra = data.draw(st.sampled_from([0.0, 0.0, 0.0005, 0.002, 0.01]), label=str(key))
            worse[key] = _scaled(value, 1 - extra)
    better_action = decide(spec, state, observed, NOW).action
    worse_action = decide(spec, state, worse, NOW).action
    assert ACTION_PERMISSIVENESS[worse_action] <= ACTION_PERMISSIVENESS[better_action]


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios())
def test_unknown_health_never_advances_or_promotes(
    scenario: tuple[GateSpec, GateState, Observed],
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
    scenario: tuple[GateSpec, GateState, Observed],
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
            # At the last step a success metric may still say "not yet".
            assert second.action in (Action.ADVANCE, Action.PROMOTE) or (
                second.reasons[0].code is ReasonCode.SUCCESS_METRIC_HOLD
            )


def _corrupt(value: float | Missing, how: str) -> float:
    """An impossible measurement derived from a real one."""
    base = value if isinstance(value, float) and math.isfinite(value) else 1000.0
    return {"negative": -abs(base) - 1.0, "inflated": abs(base) * 1.05 + 1.0}[how]


def _corrupted(value: Observation, how: str, data: st.DataObject) -> Observation:
    """`value` with one impossible number in it: in one segment, for a segmented answer."""
    if not isinstance(value, Segmented) or not value.values:
        return _corrupt(value if not isinstance(value, Segmented) else 1000.0, how)
    segment = data.draw(st.sampled_from(sorted(value.values)), label="segment")
    return Segmented(value.labels, {**value.values, segment: _corrupt(value.values[segment], how)})


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_invalid_journey_evidence_never_moves_traffic_on_its_own(
    scenario: tuple[GateSpec, GateState, Observed], data: st.DataObject
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
    corrupted = {**observed, key: _corrupted(observed[key], how, data)}
    decision = decide(spec, state, corrupted, NOW)
    assert decision.action not in (Action.ADVANCE, Action.PROMOTE)
    if decision.action is Action.ROLLBACK:
        assert any(g.limit_reached for g in decision.guardrails)
    assert decision.health is not Health.GREEN


@settings(max_examples=300, deadline=None)
@given(scenario=scenarios(), data=st.data())
def test_invalid_guardrail_evidence_is_never_a_pass(
    scenario: tuple[GateSpec, GateState, Observed], data: st.DataObject
) -> None:
    spec, state, observed = scenario
    # A guardrail's values, or the exposure counts (a negative count is impossible in both).
    guardrail_keys = [k for k in observed if k.window is None and k.role not in SUCCESS_ROLES]
    if not guardrail_keys:
        return
    key = data.draw(st.sampled_from(sorted(guardrail_keys, key=lambda k: (k.subject, k.role))))
    corrupted = {**observed, key: _corrupted(observed[key], "negative", data)}
    decision = decide(spec, state, corrupted, NOW)
    if key.role in EXPOSURE_ROLES:
        assert decision.exposure is not None
        assert decision.exposure.invalid_evidence
    else:
        judged = next(g for g in decision.guardrails if g.name == key.subject)
        assert judged.verdict is not Verdict.PASS
    if state.weight > 0:
        assert decision.action not in (Action.ADVANCE, Action.PROMOTE)


# -- segments and success metrics -------------------------------------------------------------


@st.composite
def segmented_scenarios(draw: st.DrawFn) -> tuple[GateSpec, GateState, Observed, str]:
    """A scenario with at least one segmented journey, and the name of one of them."""
    spec = draw(gates(segmented=True))
    name = draw(st.sampled_from([j.name for j in spec.journeys if j.segments]))
    return spec, draw(states(spec)), draw(measurements(spec)), name


def _segment_keys(observed: Observed, name: str, role: Role) -> list[QueryKey]:
    return sorted(
        (k for k in observed if k.subject == name and k.role is role and k.window is not None),
        key=lambda k: k.window.milliseconds if k.window else 0,
    )


@settings(max_examples=200, deadline=None)
@given(scenario=segmented_scenarios(), data=st.data())
def test_a_worse_segment_never_yields_a_more_permissive_action(
    scenario: tuple[GateSpec, GateState, Observed, str], data: st.DataObject
) -> None:
    spec, state, observed, name = scenario
    region = (data.draw(st.sampled_from(sorted(REGION_EVENTS)), label="region"),)
    worse = dict(observed)
    for key in _segment_keys(observed, name, Role.GOOD):
        value = observed[key]
        if isinstance(value, Segmented) and region in value.values:
            extra = data.draw(st.sampled_from([0.0, 0.002, 0.01, 0.05]), label=str(key))
            worse[key] = Segmented(
                value.labels, {**value.values, region: value.values[region] * (1 - extra)}
            )
    better = decide(spec, state, observed, NOW)
    worse_decision = decide(spec, state, worse, NOW)
    assert ACTION_PERMISSIVENESS[worse_decision.action] <= ACTION_PERMISSIVENESS[better.action]


@settings(max_examples=200, deadline=None)
@given(scenario=segmented_scenarios(), data=st.data())
def test_silence_in_a_judged_segment_never_advances(
    scenario: tuple[GateSpec, GateState, Observed, str], data: st.DataObject
) -> None:
    spec, state, observed, name = scenario
    region = (data.draw(st.sampled_from(JUDGED_REGIONS), label="region"),)
    key = data.draw(st.sampled_from(_segment_keys(observed, name, Role.GOOD)), label="window")
    value = observed[key]
    if not isinstance(value, Segmented):
        return  # the whole query is silent already
    how = data.draw(st.sampled_from(["absent", "nan", "inf"]), label="how")
    values = dict(value.values)
    if how == "absent":
        values.pop(region, None)
    else:
        values[region] = float(how)
    silenced = {**observed, key: Segmented(value.labels, values)}
    decision = decide(spec, state, silenced, NOW)
    assert decision.action not in (Action.ADVANCE, Action.PROMOTE)
    assert decision.health in (Health.UNKNOWN, Health.RED)
    if decision.action is Action.ROLLBACK:
        assert any(g.limit_reached for g in decision.guardrails)


@settings(max_examples=150, deadline=None)
@given(spec=gates(segmented=True), data=st.data())
def test_a_tiny_segment_is_never_judged_however_it_fails(
    spec: GateSpec, data: st.DataObject
) -> None:
    """r2 carries 3 events in 1,403 or more in every window (the others' totals all answered,
    as a tiny share is a share of something): every one of its requests failing changes no
    segment's judgement and is named nowhere."""
    state = data.draw(states(spec))
    observed = data.draw(measurements(spec, allow_missing=False))
    failing = dict(observed)
    for key, value in observed.items():
        if key.role is Role.GOOD and isinstance(value, Segmented):
            failing[key] = Segmented(value.labels, {**value.values, ("r2",): 0.0})
    decision = decide(spec, state, failing, NOW)
    for found in decision.journeys:
        assert "region r2" not in {s.name for s in found.segments}
        if found.segmented:
            assert found.segments_ignored == 1
    assert not any("region r2" in r.message for r in decision.reasons)


@settings(max_examples=200, deadline=None)
@given(scenario=scenarios())
def test_success_metrics_only_ever_turn_a_promotion_into_a_hold(
    scenario: tuple[GateSpec, GateState, Observed],
) -> None:
    """They never roll back, never override a guardrail or the matrix, never hold a ramp."""
    spec, state, observed = scenario
    with_metrics = decide(spec, state, observed, NOW)
    plain = replace(spec, canary=replace(spec.canary, success_metrics=()))
    without = decide(plain, state, observed, NOW)
    if with_metrics.action is not without.action:
        assert (without.action, with_metrics.action) == (Action.PROMOTE, Action.HOLD)
        assert with_metrics.reasons[0].code is ReasonCode.SUCCESS_METRIC_HOLD
    assert (with_metrics.health, with_metrics.mode) == (without.health, without.mode)


@st.composite
def worse_at_the_last_step(draw: st.DrawFn) -> tuple[GateSpec, GateState, Observed]:
    """A scenario at the last step whose success metric is worse on mature evidence, or drawn
    as it comes; all else (health, guardrails, exposure, windows, silence) as drawn."""
    spec, state, observed = draw(scenarios())
    if draw(st.booleans()):
        metric = SuccessMetricSpec(
            "m0", "c", "b", Direction.HIGHER, samples="n", baseline_samples="n", min_samples=1000
        )
        spec = replace(spec, canary=replace(spec.canary, success_metrics=(metric,)))
        state = replace(state, weight=spec.canary.last_step, consecutive_passes=1)
        observed = {
            **observed,
            QueryKey("m0", Role.SUCCESS_CANARY): draw(st.sampled_from([0.04, 0.045, 0.0498])),
            QueryKey("m0", Role.SUCCESS_BASELINE): 0.05,
            QueryKey("m0", Role.SUCCESS_SAMPLES): draw(st.sampled_from([500.0, 5000.0])),
            QueryKey("m0", Role.SUCCESS_BASELINE_SAMPLES): 20000.0,
        }
    return spec, state, observed


@settings(max_examples=300, deadline=None)
@given(scenario=worse_at_the_last_step())
def test_an_approval_only_ever_lets_a_promotion_past_worse_success_metrics(
    scenario: tuple[GateSpec, GateState, Observed],
) -> None:
    """An approval of the promotion never promotes what a guardrail, health, silence, invalid
    evidence, the matrix or a check holds: approved, the gate promotes only where the same
    gate without success metrics would, and only a hold that waited for it turns."""
    spec, state, observed = scenario
    waiting = decide(spec, state, observed, NOW)
    approved = decide(spec, state, observed, NOW, controls=Controls(promotion_approved=True))
    plain = replace(spec, canary=replace(spec.canary, success_metrics=()))
    without = decide(plain, state, observed, NOW)
    if approved.action is not waiting.action:
        assert (waiting.action, approved.action) == (Action.HOLD, Action.PROMOTE)
        assert waiting.awaits_approval is Action.PROMOTE
        assert waiting.reasons[0].code is ReasonCode.SUCCESS_METRIC_HOLD
    if waiting.awaits_approval is not None or approved.action is Action.PROMOTE:
        assert without.action is Action.PROMOTE
    if waiting.awaits_approval is not None:
        assert all(m.verdict is not Lift.INCONCLUSIVE for m in waiting.success_metrics)
        assert not any(m.invalid_evidence for m in waiting.success_metrics)
    assert approved.awaits_approval is None
