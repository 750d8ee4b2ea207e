"""The verdict of a decision and Flagger's answer to it: the documented mapping, each case
produced by `decide` itself, and silence never a pass."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Action,
    GateState,
    GuardrailSpec,
    Health,
    Missing,
    MissingKind,
    QueryKey,
    Role,
    Sample,
    decide,
    plan_queries,
)
from canarygate.core.decisions import Decision
from canarygate.core.judging import (
    ACTION_JUDGEMENTS,
    NO,
    YES,
    Hook,
    Judgement,
    actions_as_markdown,
    hook_answer,
    hooks_as_markdown,
    judge,
)

from .builders import gate, guardrail_observations, healthy, journey, journey_observations, silence

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
GUARDRAIL = GuardrailSpec(name="errors", canary="c[{{interval}}]", max=0.01, failure_limit=1)
SPEC = gate(journey(), guardrails=(GUARDRAIL,))
RED = {"1h": 0.02, "5m": 0.02}


def decided(observations: dict[QueryKey, Sample], weight: int = 10) -> Decision:
    return decide(SPEC, GateState(weight=weight), observations, NOW)


def test_the_documented_mapping() -> None:
    assert ACTION_JUDGEMENTS == {
        Action.ADVANCE: Judgement.PASS,
        Action.PROMOTE: Judgement.PASS,
        Action.ROLLBACK: Judgement.FAIL,
        Action.HOLD: Judgement.INCONCLUSIVE,
    }
    table = actions_as_markdown()
    assert "| `advance` | `pass` |" in table
    assert "| `rollback` | `fail` |" in table
    assert "| gate already `Promoted` | `pass` |" in table


def test_advance_and_promote_pass() -> None:
    advance = decided({**healthy(SPEC), **guardrail_observations("errors", 0.001)})
    assert (advance.action, judge(advance)) == (Action.ADVANCE, Judgement.PASS)
    promote = decided({**healthy(SPEC), **guardrail_observations("errors", 0.001)}, weight=100)
    assert (promote.action, judge(promote)) == (Action.PROMOTE, Judgement.PASS)


def test_a_failing_critical_guardrail_fails_even_during_a_red_freeze() -> None:
    found = {**journey_observations(SPEC, "checkout", RED), **guardrail_observations("errors", 0.2)}
    decision = decided(found)
    assert (decision.health, decision.action) == (Health.RED, Action.ROLLBACK)
    assert judge(decision) is Judgement.FAIL


def test_a_red_freeze_without_a_failing_guardrail_is_inconclusive_not_fail() -> None:
    found = {
        **journey_observations(SPEC, "checkout", RED),
        **guardrail_observations("errors", 0.001),
    }
    decision = decided(found)
    assert (decision.health, decision.action) == (Health.RED, Action.HOLD)
    assert judge(decision) is Judgement.INCONCLUSIVE


def test_a_refused_query_is_error_unless_the_gate_rolls_back() -> None:
    refused = Missing(MissingKind.QUERY_ERROR, "parse error")
    found = {**healthy(SPEC), QueryKey("errors", Role.CANARY): refused}
    assert judge(decided(found)) is Judgement.ERROR
    journeys_refused = dict.fromkeys(healthy(SPEC), refused)
    failing = {**journeys_refused, **guardrail_observations("errors", 0.3)}
    decision = decided(failing)
    assert decision.action is Action.ROLLBACK
    assert judge(decision) is Judgement.FAIL


@pytest.mark.parametrize(
    "kind",
    [MissingKind.NO_DATA, MissingKind.UNREACHABLE, MissingKind.NOT_A_NUMBER, MissingKind.INVALID],
)
def test_silence_is_inconclusive(kind: MissingKind) -> None:
    assert judge(decided(silence(SPEC, kind))) is Judgement.INCONCLUSIVE


OUTCOMES = st.one_of(
    st.floats(min_value=0, max_value=2000, allow_nan=False),
    st.sampled_from(
        [
            Missing(MissingKind.NO_DATA),
            Missing(MissingKind.UNREACHABLE, "down"),
            Missing(MissingKind.NOT_A_NUMBER),
            Missing(MissingKind.INVALID, "negative"),
            float("nan"),
            float("inf"),
            -1.0,
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), weight=st.sampled_from([0, 5, 10, 50, 100]))
def test_a_pass_needs_every_journey_query_answered(data: st.DataObject, weight: int) -> None:
    """Whatever Prometheus answers, a pass means customer health was measured (never silence)."""
    found: dict[QueryKey, Sample] = {}
    for query in plan_queries(SPEC):
        found[query.key] = data.draw(OUTCOMES, label=str(query.key))
    decision = decided(found, weight=weight)
    if judge(decision) is Judgement.PASS:
        assert decision.health is not Health.UNKNOWN
        assert all(j.complete for j in decision.journeys)
    if decision.health is Health.UNKNOWN:
        assert judge(decision) is not Judgement.PASS


EXPECTED = {
    # hook: (pass, fail, inconclusive, error)
    Hook.CONFIRM_ROLLOUT: (YES, NO, NO, NO),
    Hook.CONFIRM_TRAFFIC_INCREASE: (YES, NO, NO, NO),
    Hook.CONFIRM_PROMOTION: (YES, NO, NO, NO),
    Hook.PRE_ROLLOUT: (YES, NO, YES, YES),
    Hook.ROLLOUT: (YES, NO, YES, YES),
    Hook.ROLLBACK: (NO, YES, NO, NO),
    Hook.POST_ROLLOUT: (YES, YES, YES, YES),
    Hook.EVENT: (YES, YES, YES, YES),
}


@pytest.mark.parametrize("hook", list(Hook))
def test_flaggers_hooks(hook: Hook) -> None:
    verdicts = (Judgement.PASS, Judgement.FAIL, Judgement.INCONCLUSIVE, Judgement.ERROR)
    got = tuple(hook_answer(hook, v).status for v in verdicts)
    assert got == EXPECTED[hook]
    assert YES == 200
    assert not 200 <= NO <= 202, "Flagger reads 200-202 as yes"


def test_a_halt_is_never_counted_as_a_failed_check() -> None:
    """During a fleet-wide red (inconclusive): the traffic increase halts, the rollout check
    counts no failure, no rollback is signalled."""
    assert not hook_answer(Hook.CONFIRM_TRAFFIC_INCREASE, Judgement.INCONCLUSIVE).yes
    assert hook_answer(Hook.ROLLOUT, Judgement.INCONCLUSIVE).yes
    assert not hook_answer(Hook.ROLLBACK, Judgement.INCONCLUSIVE).yes
    assert hook_answer(Hook.ROLLOUT, Judgement.ERROR).yes
    assert not hook_answer(Hook.ROLLOUT, Judgement.FAIL).yes


def test_the_hook_table_prints_every_hook() -> None:
    table = hooks_as_markdown()
    for hook in Hook:
        assert f"| `{hook}` |" in table
    assert "| `rollout` | 200 | 412 | 200 | 200 |" in table
