"""Manual controls: which one applies to a gate now, and what a pause does to a decision."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from canarygate.core import Action, GateState, GuardrailSpec, Phase, Severity, decide
from canarygate.core.controls import (
    Control,
    ControlKind,
    Controls,
    applying,
    judge_controls,
)
from canarygate.core.decisions import ReasonCode

from .builders import gate, guardrail_observations, healthy

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
PAUSE = Control(ControlKind.PAUSE, "v2", by="alice", reason="INC-4711", at="2026-01-15T11:59:00Z")


def test_a_control_for_the_current_revision_applies_and_says_so() -> None:
    (outcome,) = judge_controls([PAUSE], "v2", Phase.PROGRESSING)
    assert outcome.applies
    assert outcome.message == (
        "pause by alice (INC-4711) of revision v2 acknowledged: the gate holds where it is "
        "(a critical guardrail still rolls back)"
    )


def test_a_control_for_another_revision_is_ignored_with_the_reason() -> None:
    stale = Control(ControlKind.ABORT, "v1", by="bob")
    (outcome,) = judge_controls([stale], "v2", Phase.PROGRESSING)
    assert not outcome.applies
    assert outcome.message == (
        "abort by bob ignored: it names revision v1, and the gate rolls out revision v2"
    )
    assert applying([outcome], ControlKind.ABORT) is None


def test_an_unreadable_control_is_ignored_with_its_problem() -> None:
    broken = Control(ControlKind.PAUSE, "", problem="its value names no revision")
    (outcome,) = judge_controls([broken], "v2", Phase.PENDING)
    assert not outcome.applies
    assert outcome.message.endswith("ignored: its value names no revision")


def test_abort_wins_over_a_forced_promotion_of_the_same_revision() -> None:
    abort = Control(ControlKind.ABORT, "v2", by="oncall")
    promote = Control(ControlKind.PROMOTE, "v2", by="lead", reason="ship it")
    outcomes = judge_controls([promote, abort], "v2", Phase.PROGRESSING)
    assert applying(outcomes, ControlKind.ABORT) == abort
    assert applying(outcomes, ControlKind.PROMOTE) is None
    ignored = next(o for o in outcomes if o.control is promote)
    assert ignored.message.endswith("ignored: an abort of the same revision wins")


@pytest.mark.parametrize("phase", [Phase.PROMOTED, Phase.ROLLED_BACK])
def test_abort_and_promote_of_a_finished_rollout_are_ignored(phase: Phase) -> None:
    for kind in (ControlKind.ABORT, ControlKind.PROMOTE):
        (outcome,) = judge_controls([Control(kind, "v2")], "v2", phase)
        assert not outcome.applies
        assert f"already {phase}" in outcome.message


@pytest.mark.parametrize("phase", [Phase.PENDING, Phase.PROGRESSING, Phase.WAITING_FOR_APPROVAL])
def test_abort_and_promote_apply_while_the_rollout_runs(phase: Phase) -> None:
    for kind in (ControlKind.ABORT, ControlKind.PROMOTE):
        (outcome,) = judge_controls([Control(kind, "v2")], "v2", phase)
        assert outcome.applies, outcome.message


def test_a_paused_gate_holds_where_it_is_and_keeps_its_passes() -> None:
    spec = gate()
    decision = decide(
        spec,
        GateState(weight=10, phase=Phase.PROGRESSING, consecutive_passes=1),
        healthy(spec),
        NOW,
        controls=Controls(pause=PAUSE),
    )
    assert (decision.action, decision.weight_next) == (Action.HOLD, 10)
    assert decision.reasons[0].code is ReasonCode.PAUSED
    assert decision.reasons[0].message.startswith(
        "hold: paused (pause by alice (INC-4711) at 2026-01-15T11:59:00Z)"
    )
    assert decision.state.consecutive_passes == 1


def test_a_paused_gate_never_rolls_back_on_a_failure_below_the_limit_but_does_at_it() -> None:
    guardrail = GuardrailSpec("errors", canary="c", max=0.01, failure_limit=2)
    spec = gate(guardrails=(guardrail,))
    failing = {**healthy(spec), **guardrail_observations("errors", 0.5)}
    state = GateState(weight=10, phase=Phase.PROGRESSING)
    first = decide(spec, state, failing, NOW, controls=Controls(pause=PAUSE))
    assert first.action is Action.HOLD
    assert first.reasons[0].code is ReasonCode.PAUSED
    assert first.state.guardrail_failures == {"errors": 1}  # still counted while paused
    second = decide(spec, first.state, failing, NOW, controls=Controls(pause=PAUSE))
    assert second.action is Action.ROLLBACK


def test_a_minor_guardrail_failing_while_paused_only_holds() -> None:
    guardrail = GuardrailSpec("latency", canary="c", max=0.01, severity=Severity.MINOR)
    spec = gate(guardrails=(guardrail,))
    failing = {**healthy(spec), **guardrail_observations("latency", 0.5)}
    decision = decide(spec, GateState(weight=10), failing, NOW, controls=Controls(pause=PAUSE))
    assert decision.action is Action.HOLD
