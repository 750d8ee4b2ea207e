"""Where the incident controls (a pause, the freeze's cooldown, the hotfix lane, checks, observe
only) meet the incident-time safeguards (freeze windows, proof of exposure, combined rules):
one decision, with both in play, and the precedence between them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from canarygate.core import (
    Action,
    Duration,
    GateSpec,
    GateState,
    Health,
    Mode,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    decide,
)
from canarygate.core.checks import CheckSpec, WebhookCheck
from canarygate.core.controls import Control, ControlKind, Controls
from canarygate.core.decisions import ReasonCode
from canarygate.core.explaining import explain
from canarygate.core.exposure import Exposure
from canarygate.core.presets import preset_rule
from canarygate.core.specs import MatrixPolicy
from canarygate.core.state import FreezeMemory
from canarygate.core.vocabulary import Enforcement, WindowEffect
from canarygate.core.windows import TimeWindow, WallClocks

from .builders import gate, healthy, journey, journey_observations
from .test_combined_rules import policy_with, ratios
from .test_exposure import exposed, served

T0 = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)
NIGHT = TimeWindow("night", WindowEffect.FREEZE, "UTC", 22 * 60, 6 * 60)
IN_WINDOW = WallClocks(T0, {"UTC": datetime(2026, 11, 27, 23, 0)})
RED = {"1h": 0.02, "5m": 0.02}
COOLDOWN = Duration(10 * 60_000)


def spec_for(*, hotfix: bool = False, windows: tuple[TimeWindow, ...] = ()) -> GateSpec:
    factors = RiskFactors(change_type="hotfix", incident="INC-4711") if hotfix else RiskFactors()
    spec = gate(journey(), risk=RiskSpec(RiskLevel.LOW, factors))
    return replace(spec, policy=MatrixPolicy(freeze_cooldown=COOLDOWN, windows=windows))


def codes(decision: object) -> list[ReasonCode]:
    return [r.code for r in decision.reasons]  # type: ignore[attr-defined]


def test_a_hotfix_under_red_proceeds_but_a_freeze_window_still_holds_it() -> None:
    outside = spec_for(hotfix=True)
    red = journey_observations(outside, "checkout", RED)
    lane = decide(outside, GateState(weight=10, consecutive_passes=1), red, T0)
    assert (lane.mode, lane.action) == (Mode.GUARDED, Action.ADVANCE)

    spec = spec_for(hotfix=True, windows=(NIGHT,))
    decision = decide(spec, GateState(weight=10, consecutive_passes=1), red, T0, IN_WINDOW)
    assert (decision.health, decision.mode, decision.action) == (
        Health.RED,
        Mode.FREEZE,
        Action.HOLD,
    )
    assert decision.reasons[0].code is ReasonCode.WINDOW
    assert decision.window_froze is Mode.GUARDED
    mode = next(r.message for r in decision.reasons if r.code is ReasonCode.MODE)
    assert mode.startswith("mode freeze (freeze window night; red x low would be guarded (hotfix")
    lines = explain(spec, decision)
    assert lines[0].endswith(
        "by precedence rule 6 (a freeze window is in force: the mode does not advance)"
    )
    assert any(
        "gives freeze, the hotfix lane guarded, but freeze window night is in force" in line
        for line in lines
    ), lines


def test_the_cooldown_and_a_freeze_window_both_hold_the_cooldown_first() -> None:
    spec = spec_for(windows=(NIGHT,))
    memory = FreezeMemory(T0 - timedelta(minutes=30), ("checkout",), T0 - timedelta(minutes=2))
    decision = decide(spec, GateState(weight=10, freeze=memory), healthy(spec), T0, IN_WINDOW)
    assert (decision.mode, decision.action) == (Mode.FREEZE, Action.HOLD)
    assert codes(decision)[:2] == [ReasonCode.FREEZE_COOLDOWN, ReasonCode.WINDOW]
    assert decision.window_froze is None  # the cooldown froze it first
    lines = explain(spec, decision)
    assert "precedence rule 6 (the freeze after red health is still cooling down)" in lines[0]
    assert any("but the freeze after red health is cooling down" in line for line in lines)
    # Once the cooldown has run out the window alone holds the gate.
    later = T0 + timedelta(minutes=9)
    clocks = WallClocks(later, {"UTC": datetime(2026, 11, 27, 23, 9)})
    after = decide(spec, decision.state, healthy(spec), later, clocks)
    assert after.state.freeze is None
    assert after.reasons[0].code is ReasonCode.WINDOW
    assert ReasonCode.FREEZE_CLEARED in codes(after)


def test_a_pause_decides_before_a_freeze_window_which_is_still_named() -> None:
    spec = spec_for(windows=(NIGHT,))
    pause = Control(ControlKind.PAUSE, "v1", by="alice", reason="INC-4711")
    decision = decide(
        spec, GateState(weight=10), healthy(spec), T0, IN_WINDOW, controls=Controls(pause=pause)
    )
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.PAUSED
    assert ReasonCode.WINDOW in codes(decision)[1:]
    assert "precedence rule 3" in explain(spec, decision)[0]


def test_a_page_rule_that_makes_a_journey_red_starts_the_freeze_and_its_cooldown() -> None:
    rule = preset_rule("burn4x-budget25", name="page-checkout")
    spec = replace(spec_for(), health=policy_with(rule))
    burning = journey_observations(spec, "checkout", ratios(burn=6, remaining=0.1))
    red = decide(spec, GateState(weight=10), burning, T0)
    assert red.health is Health.RED
    assert red.state.freeze == FreezeMemory(T0, ("checkout",))
    # The rule stops firing (the burn is over), health is yellow on the budget left: the
    # cooldown holds the gate, as after any red.
    later = T0 + timedelta(minutes=3)
    quiet = journey_observations(spec, "checkout", ratios(burn=0, remaining=0.1))
    cooling = decide(spec, red.state, quiet, later)
    assert cooling.health is not Health.RED
    assert cooling.reasons[0].code is ReasonCode.FREEZE_COOLDOWN
    assert cooling.cooldown_until == later + timedelta(minutes=10)


def test_an_observing_gate_reports_its_exposure_but_is_not_held_by_it() -> None:
    acting = exposed(spec_for())
    observed = {**healthy(acting), **served(0.0, 1000.0)}  # the route was never set to 10 %
    held = decide(acting, GateState(weight=10), observed, T0)
    assert held.action is Action.HOLD
    assert held.reasons[0].code is ReasonCode.EXPOSURE_SILENT

    observing = replace(acting, enforcement=Enforcement.OBSERVE)
    decision = decide(observing, GateState(weight=10), observed, T0)
    assert decision.action is Action.ADVANCE
    assert decision.exposure is not None
    assert decision.exposure.state is Exposure.NOT_JUDGED
    assert decision.exposure.finding.endswith("(not judged: observe only, canarygate set no route)")
    assert not decision.exposure.blocks


def test_an_exposure_hold_asks_no_step_check() -> None:
    check = CheckSpec("smoke", webhook=WebhookCheck("http://127.0.0.1:9/check"))
    spec = exposed(spec_for())
    spec = replace(spec, canary=replace(spec.canary, checks=(check,)))
    unexposed = {**healthy(spec), **served(20.0, 1000.0)}  # 2 % at a route of 10 %: mismatch
    decision = decide(spec, GateState(weight=10), unexposed, T0)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.EXPOSURE
    assert decision.checks_wanted == ()
    proven = {**healthy(spec), **served(100.0, 1000.0)}
    moving = decide(spec, GateState(weight=10), proven, T0)
    assert moving.checks_wanted == ("smoke",)  # the step now waits for its check
