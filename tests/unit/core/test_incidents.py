"""The incident-aware freeze (a cooldown after red, a clearance) and the hotfix lane."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from canarygate.core import (
    Action,
    Duration,
    GateSpec,
    GateState,
    GuardrailSpec,
    Health,
    MatrixPolicy,
    MissingKind,
    Mode,
    Risk,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    Severity,
    decide,
)
from canarygate.core.controls import Control, ControlKind, Controls
from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.state import FreezeMemory

from .builders import gate, guardrail_observations, journey, journey_observations, silence

T0 = datetime(2026, 1, 15, 10, 2, tzinfo=UTC)
RED = {"1h": 0.02, "5m": 0.02}
COOLDOWN = Duration(10 * 60_000)


def spec_for(*, hotfix: bool = False, cooldown: Duration = COOLDOWN, **kwargs: object) -> GateSpec:
    factors = RiskFactors(change_type="hotfix", incident="INC-4711") if hotfix else RiskFactors()
    spec = gate(journey(), risk=RiskSpec(RiskLevel.LOW, factors), **kwargs)  # type: ignore[arg-type]
    return replace(spec, policy=MatrixPolicy(freeze_cooldown=cooldown))


def at(spec: GateSpec, state: GateState, health: Health, now: datetime, **kw: object) -> Decision:
    if health is Health.UNKNOWN:
        observations = silence(spec, MissingKind.NO_DATA)
    else:
        observations = journey_observations(spec, "checkout", RED if health is Health.RED else 0.0)
    return decide(spec, state, observations, now, **kw)  # type: ignore[arg-type]


def test_red_starts_an_episode_and_freezes() -> None:
    spec = spec_for()
    decision = at(spec, GateState(weight=10), Health.RED, T0)
    assert (decision.mode, decision.action) == (Mode.FREEZE, Action.HOLD)
    assert decision.reasons[0].message == "hold: customer health is red; traffic is frozen"
    assert decision.state.freeze == FreezeMemory(T0, ("checkout",))
    note = next(r for r in decision.reasons if r.code is ReasonCode.FREEZE)
    assert note.message.startswith("frozen: checkout red since 10:02:00 UTC; steps resume once")
    assert "canarygate.io/clear-freeze=2026-01-15T10:02:00Z" in note.message


def test_the_freeze_lifts_only_after_the_cooldown_out_of_red() -> None:
    spec = spec_for()
    state = at(spec, GateState(weight=10), Health.RED, T0).state
    state = at(spec, state, Health.RED, T0 + timedelta(minutes=17)).state  # red at 10:19
    assert state.freeze is not None
    assert state.freeze.red_since == T0  # the episode keeps its start

    left = T0 + timedelta(minutes=19)  # out of red at 10:21
    cooling = at(spec, state, Health.GREEN, left)
    assert cooling.health is Health.GREEN
    assert (cooling.mode, cooling.action, cooling.weight_next) == (Mode.FREEZE, Action.HOLD, 10)
    assert cooling.reasons[0].code is ReasonCode.FREEZE_COOLDOWN
    assert cooling.reasons[0].message.startswith(
        "hold: frozen: checkout red since 10:02:00 UTC; cooldown until 10:31:00 UTC"
    )
    assert cooling.cooldown_until == left + timedelta(minutes=10)
    assert cooling.state.freeze == FreezeMemory(T0, ("checkout",), left)

    # A minute before the end it still holds, from the same start of the cooldown.
    almost = at(spec, cooling.state, Health.GREEN, left + timedelta(minutes=9))
    assert almost.action is Action.HOLD
    assert almost.state.freeze == cooling.state.freeze

    done = at(spec, almost.state, Health.GREEN, left + timedelta(minutes=10))
    assert (done.mode, done.action, done.weight_next) == (Mode.PROCEED, Action.ADVANCE, 25)
    assert done.state.freeze is None
    ended = next(r for r in done.reasons if r.code is ReasonCode.FREEZE_CLEARED)
    assert "ended: health out of red since 10:21:00 UTC for the cooldown of 10m" in ended.message


def test_red_again_during_the_cooldown_starts_it_over() -> None:
    spec = spec_for()
    state = at(spec, GateState(weight=10), Health.RED, T0).state
    state = at(spec, state, Health.GREEN, T0 + timedelta(minutes=5)).state
    state = at(spec, state, Health.RED, T0 + timedelta(minutes=8)).state
    assert state.freeze == FreezeMemory(T0, ("checkout",), None)
    back = T0 + timedelta(minutes=9)
    cooling = at(spec, state, Health.GREEN, back)
    assert cooling.cooldown_until == back + timedelta(minutes=10)
    assert cooling.action is Action.HOLD


def test_unknown_health_is_no_evidence_that_red_ended() -> None:
    spec = spec_for()
    state = at(spec, GateState(weight=10), Health.RED, T0).state
    state = at(spec, state, Health.GREEN, T0 + timedelta(minutes=1)).state
    silent = at(spec, state, Health.UNKNOWN, T0 + timedelta(minutes=5))
    assert silent.mode is Mode.HOLD
    assert silent.state.freeze == FreezeMemory(T0, ("checkout",), None)
    assert any("health is unknown" in r.message for r in silent.reasons)
    later = T0 + timedelta(minutes=12)  # 11 minutes after it first left red
    assert at(spec, silent.state, Health.GREEN, later).action is Action.HOLD


def test_a_clearance_naming_the_episode_ends_the_freeze_once_health_is_out_of_red() -> None:
    spec = spec_for()
    state = at(spec, GateState(weight=10), Health.RED, T0).state
    clearance = Control(
        ControlKind.CLEAR_FREEZE, "2026-01-15T10:02:00Z", by="alice", reason="fixed"
    )
    controls = Controls(clearances=(clearance,))

    still_red = at(spec, state, Health.RED, T0 + timedelta(minutes=1), controls=controls)
    assert still_red.mode is Mode.FREEZE  # a clearance does not override red itself

    cleared = at(spec, still_red.state, Health.GREEN, T0 + timedelta(minutes=2), controls=controls)
    assert (cleared.action, cleared.weight_next) == (Action.ADVANCE, 25)
    assert cleared.state.freeze is None
    note = next(r for r in cleared.reasons if r.code is ReasonCode.FREEZE_CLEARED)
    assert "cleared by alice (fixed)" in note.message


@pytest.mark.parametrize(
    "target",
    ["2026-01-14T10:02:00Z", "yesterday", ""],
    ids=["another-episode", "not-a-time", "empty"],
)
def test_a_clearance_for_another_episode_clears_nothing(target: str) -> None:
    spec = spec_for()
    state = at(spec, GateState(weight=10), Health.RED, T0).state
    controls = Controls(clearances=(Control(ControlKind.CLEAR_FREEZE, target, by="bob"),))
    decision = at(spec, state, Health.GREEN, T0 + timedelta(minutes=1), controls=controls)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.FREEZE_COOLDOWN


def test_a_hotfix_proceeds_guarded_under_red_while_another_gate_freezes() -> None:
    hotfix, other = spec_for(hotfix=True), spec_for()
    state = GateState(weight=10)
    first = at(hotfix, state, Health.RED, T0)
    assert (first.health, first.mode, first.action) == (Health.RED, Mode.GUARDED, Action.HOLD)
    assert first.reasons[0].code is ReasonCode.PASSES_NEEDED  # passes doubled: 1 of 2
    lane = next(r for r in first.reasons if r.code is ReasonCode.HOTFIX)
    assert (
        lane.message == "hotfix lane: hotfix for incident INC-4711: red health does not freeze it"
    )
    second = at(hotfix, first.state, Health.RED, T0 + timedelta(minutes=1))
    assert (second.action, second.weight_next) == (Action.ADVANCE, 25)
    assert at(other, state, Health.RED, T0).mode is Mode.FREEZE


def test_a_hotfix_counts_every_guardrail_as_critical_under_red() -> None:
    minor = GuardrailSpec("error-rate", canary="c", max=0.01, severity=Severity.MINOR)
    spec = spec_for(hotfix=True, guardrails=(minor,))
    observations = {
        **journey_observations(spec, "checkout", RED),
        **guardrail_observations("error-rate", 0.5),
    }
    decision = decide(spec, GateState(weight=10), observations, T0)
    assert decision.action is Action.ROLLBACK
    assert "counted as critical in this mode" in decision.reasons[0].message


def test_a_hotfix_still_holds_on_silence_and_is_not_held_by_a_cooldown() -> None:
    spec = spec_for(hotfix=True)
    assert at(spec, GateState(weight=10), Health.UNKNOWN, T0).action is Action.HOLD
    memory = FreezeMemory(T0, ("checkout",), T0 + timedelta(minutes=1))
    decision = at(
        spec, GateState(weight=10, freeze=memory), Health.GREEN, T0 + timedelta(minutes=2)
    )
    assert (decision.mode, decision.action) == (Mode.PROCEED, Action.ADVANCE)
    assert decision.state.freeze == memory  # remembered: the status still shows the episode


def test_the_matrix_mode_line_names_the_cooldown() -> None:
    spec = spec_for()
    memory = FreezeMemory(T0, ("checkout",), T0)
    decision = at(
        spec, GateState(weight=10, freeze=memory), Health.GREEN, T0 + timedelta(minutes=1)
    )
    mode = next(r for r in decision.reasons if r.code is ReasonCode.MODE)
    assert mode.message.startswith("mode freeze (green x low, in the cooldown of a red episode)")


YELLOW = {"1d": 0.003, "2h": 0.003}


def test_a_hotfix_under_yellow_is_lifted_only_out_of_a_mode_that_would_hold_it() -> None:
    spec = spec_for(hotfix=True)
    observations = journey_observations(spec, "checkout", YELLOW)
    held = decide(spec, GateState(weight=10), observations, T0)
    assert (held.health, held.mode) == (Health.YELLOW, Mode.GUARDED)  # not neutral-only
    proceeding = replace(
        spec,
        policy=MatrixPolicy(
            cells={(Health.YELLOW, Risk.LOW): Mode.PROCEED}, freeze_cooldown=COOLDOWN
        ),
    )
    kept = decide(proceeding, GateState(weight=10), observations, T0)
    assert (kept.mode, kept.action) == (Mode.PROCEED, Action.ADVANCE)
    assert not any(r.code is ReasonCode.HOTFIX for r in kept.reasons)
