"""Invariants of the incident controls, over generated gates, measurements and histories:

- a paused gate never adds exposure, and rolls back only where it would unpaused;
- a freeze never lifts before health stayed out of red for the whole cooldown (no clearance);
- a webhook check without a 2xx answer about the step never lets the step go, and without a
  non-2xx answer never rolls back;
- the hotfix lane never advances on silence.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Action,
    Duration,
    GateSpec,
    GateState,
    Health,
    MatrixPolicy,
    MissingKind,
    Phase,
    RiskFactors,
    RiskLevel,
    RiskSpec,
    Severity,
    decide,
)
from canarygate.core.checks import CheckResult, CheckSpec, CheckTiming, WebhookCheck
from canarygate.core.controls import Control, ControlKind, Controls
from canarygate.core.vocabulary import ACTION_PERMISSIVENESS

from .builders import gate, healthy, journey, journey_observations, silence
from .test_properties import scenarios

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
MOVES = (Action.ADVANCE, Action.PROMOTE)
PAUSE = Control(ControlKind.PAUSE, "v1", by="oncall")
LEVELS = {
    Health.GREEN: 0.0,
    Health.YELLOW: {"1d": 0.003, "2h": 0.003},
    Health.RED: {"1h": 0.02, "5m": 0.02},
}


@settings(max_examples=400, deadline=None)
@given(scenario=scenarios())
def test_a_paused_gate_never_adds_exposure(
    scenario: tuple[GateSpec, GateState, dict[object, object]],
) -> None:
    spec, state, observed = scenario
    paused = decide(spec, state, observed, NOW, controls=Controls(pause=PAUSE))  # type: ignore[arg-type]
    free = decide(spec, state, observed, NOW)  # type: ignore[arg-type]
    assert paused.action not in MOVES
    assert paused.weight_next <= state.weight
    if paused.action is Action.ROLLBACK:
        assert free.action is Action.ROLLBACK
    assert ACTION_PERMISSIVENESS[paused.action] <= max(
        ACTION_PERMISSIVENESS[free.action], ACTION_PERMISSIVENESS[Action.HOLD]
    )


healths = st.sampled_from([Health.GREEN, Health.GREEN, Health.YELLOW, Health.RED, Health.UNKNOWN])


@settings(max_examples=300, deadline=None)
@given(
    history=st.lists(st.tuples(healths, st.integers(1, 300)), min_size=2, max_size=25),
    cooldown_seconds=st.sampled_from([30, 120, 600]),
    neutral=st.booleans(),
)
def test_a_freeze_never_lifts_before_the_cooldown(
    history: list[tuple[Health, int]], cooldown_seconds: int, neutral: bool
) -> None:
    factors = RiskFactors(customer_neutral=neutral, reversible=neutral)
    spec = gate(journey(), steps=(5, 10, 25, 50, 100), risk=RiskSpec(RiskLevel.LOW, factors))
    spec = replace(spec, policy=MatrixPolicy(freeze_cooldown=Duration(cooldown_seconds * 1000)))
    cooldown = timedelta(seconds=cooldown_seconds)
    state = GateState()
    now = NOW
    seen: list[tuple[datetime, Health]] = []
    for health, seconds in history:
        now += timedelta(seconds=seconds)
        observations = (
            silence(spec, MissingKind.NO_DATA)
            if health is Health.UNKNOWN
            else journey_observations(spec, "checkout", LEVELS[health])
        )
        decision = decide(spec, state, observations, now)
        seen.append((now, decision.health))
        if decision.action in MOVES:
            assert decision.state.freeze is None, "moved during a red episode"
        if state.freeze is not None and decision.state.freeze is None:
            # The episode ended here: health stayed out of red for the whole cooldown.
            _assert_out_of_red_long_enough(seen, now, cooldown)
        state = decision.state
        if state.phase is Phase.PROMOTED:
            break


def _assert_out_of_red_long_enough(
    seen: list[tuple[datetime, Health]], now: datetime, cooldown: timedelta
) -> None:
    """Since the last red evaluation and any unknown one after it (no evidence that red
    ended), the first evaluation known out of red is at least `cooldown` before `now`."""
    reds = [i for i, (_, h) in enumerate(seen) if h is Health.RED]
    if not reds:
        return
    last = max(i for i, (_, h) in enumerate(seen) if i >= reds[-1] and h in _NOT_OUT_OF_RED)
    after = seen[last + 1 :]
    assert after, "moved on a red or unknown evaluation"
    assert now - after[0][0] >= cooldown, (now, after[0][0], cooldown)


_NOT_OUT_OF_RED = frozenset({Health.RED, Health.UNKNOWN})


answers = st.one_of(
    st.none(),
    st.builds(
        CheckResult,
        step=st.sampled_from([10, 25]),
        status_code=st.sampled_from([200, 204, 302, 409, 500]),
    ),
    st.builds(CheckResult, step=st.just(25), error=st.just("no answer within 5s (timeout)")),
)


@settings(max_examples=400, deadline=None)
@given(
    when=st.sampled_from(list(CheckTiming)),
    severity=st.sampled_from(list(Severity)),
    answer=answers,
    weight=st.sampled_from([0, 10]),
)
def test_a_webhook_check_passes_only_on_a_2xx_answer_about_the_step(
    when: CheckTiming, severity: Severity, answer: CheckResult | None, weight: int
) -> None:
    check = CheckSpec("smoke", when=when, severity=severity, webhook=WebhookCheck("http://h/"))
    spec = gate(journey(), steps=(10, 25, 50))
    spec = replace(spec, canary=replace(spec.canary, checks=(check,)))
    state = GateState(weight=weight, phase=Phase.PROGRESSING if weight else Phase.PENDING)
    given_answers = {} if answer is None else {"smoke": answer}
    decision = decide(spec, state, healthy(spec), NOW, checks=given_answers)
    (assessed,) = decision.checks
    if decision.action in MOVES and assessed.ran:
        assert answer is not None
        assert answer.error is None
        assert answer.status_code in range(200, 300)
        expected = weight if when is CheckTiming.EVERY_INTERVAL else decision.weight_next
        assert answer.step == assessed.step == expected
    if decision.action is Action.ROLLBACK:
        assert severity is Severity.CRITICAL
        assert answer is not None
        assert answer.error is None
        assert answer.status_code is not None
        assert answer.status_code not in range(200, 300)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(list(MissingKind)), weight=st.sampled_from([0, 10, 50]))
def test_the_hotfix_lane_never_advances_on_silence(kind: MissingKind, weight: int) -> None:
    factors = RiskFactors(change_type="hotfix", incident="INC-1")
    spec = gate(journey(), risk=RiskSpec(RiskLevel.AUTO, factors))
    decision = decide(spec, GateState(weight=weight), silence(spec, kind), NOW)
    assert decision.action not in MOVES
    assert decision.action is not Action.ROLLBACK
