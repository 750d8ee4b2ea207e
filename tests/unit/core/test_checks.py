"""Checks that block a step: when each is due, what its answer does to the decision."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from canarygate.core import (
    Action,
    GateSpec,
    GateState,
    Missing,
    MissingKind,
    Phase,
    QueryKey,
    Role,
    Severity,
    decide,
    plan_queries,
)
from canarygate.core.checks import (
    CheckKind,
    CheckRecord,
    CheckResult,
    CheckSpec,
    CheckTiming,
    CheckVerdict,
    PrometheusCheck,
    WebhookCheck,
)
from canarygate.core.controls import Control, ControlKind, Controls
from canarygate.core.decisions import Decision, ReasonCode

from .builders import gate, healthy

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
PROBE = PrometheusCheck('probe_success{target="canary"}', min=1)


def with_checks(*checks: CheckSpec) -> GateSpec:
    spec = gate()
    return replace(spec, canary=replace(spec.canary, checks=checks))


def probe(when: CheckTiming = CheckTiming.BEFORE_EACH_STEP, **kw: object) -> CheckSpec:
    return CheckSpec("probe", when=when, prometheus=PROBE, **kw)  # type: ignore[arg-type]


def hook(when: CheckTiming = CheckTiming.BEFORE_EACH_STEP, **kw: object) -> CheckSpec:
    return CheckSpec("smoke", when=when, webhook=WebhookCheck("http://hooks/smoke"), **kw)  # type: ignore[arg-type]


def run(
    spec: GateSpec,
    weight: int = 10,
    value: float | Missing | None = 1.0,
    answers: dict[str, CheckResult] | None = None,
    **state: object,
) -> Decision:
    observations = dict(healthy(spec))
    if value is not None:
        observations[QueryKey("probe", Role.CHECK)] = value
    return decide(spec, GateState(weight=weight, **state), observations, NOW, checks=answers)  # type: ignore[arg-type]


def test_a_check_query_is_planned_with_its_own_role() -> None:
    spec = with_checks(probe())
    keys = [q.key for q in plan_queries(spec)]
    assert QueryKey("probe", Role.CHECK) in keys


def test_a_passing_probe_lets_the_step_go_and_is_reported() -> None:
    decision = run(with_checks(probe()))
    assert (decision.action, decision.weight_next) == (Action.ADVANCE, 25)
    (check,) = decision.checks
    assert (check.verdict, check.ran, check.value, check.step) == (CheckVerdict.PASS, True, 1.0, 25)
    line = next(r for r in decision.reasons if r.code is ReasonCode.CHECK)
    assert line.message == "check probe (prometheus, before each step) pass: value 1, needs >= 1"


def test_a_failing_probe_holds_and_restarts_the_passes() -> None:
    decision = run(with_checks(probe()), value=0.0, consecutive_passes=1)
    assert (decision.action, decision.weight_next) == (Action.HOLD, 10)
    assert decision.reasons[0].code is ReasonCode.CHECK_FAILED
    assert decision.reasons[0].message == (
        "hold: check probe failed: value 0, needs >= 1; the step to 25% waits"
    )
    assert decision.state.consecutive_passes == 0
    assert decision.state.checks["probe"].consecutive_failures == 1


def test_a_critical_check_rolls_back_at_its_failure_limit() -> None:
    spec = with_checks(probe(severity=Severity.CRITICAL, failure_limit=2))
    first = run(spec, value=0.0)
    assert first.action is Action.HOLD
    assert "failure 1 of 2 before rollback" in first.reasons[0].message
    second = decide(spec, first.state, {**healthy(spec), QueryKey("probe", Role.CHECK): 0.0}, NOW)
    assert (second.action, second.weight_next) == (Action.ROLLBACK, 0)
    assert second.reasons[0].message == (
        "rollback: critical check probe failed 2 consecutive time(s) (failureLimit 2): "
        "value 0, needs >= 1"
    )


@pytest.mark.parametrize("kind", [MissingKind.NO_DATA, MissingKind.UNREACHABLE])
def test_a_probe_without_data_holds_and_never_rolls_back(kind: MissingKind) -> None:
    spec = with_checks(probe(severity=Severity.CRITICAL))
    decision = run(spec, value=Missing(kind, "silence"), consecutive_passes=1)
    assert decision.action is Action.HOLD
    assert decision.reasons[0].code is ReasonCode.CHECK_ERROR
    assert decision.checks[0].verdict is CheckVerdict.ERROR
    assert decision.state.consecutive_passes == 1  # no answer does not erase evidence either


def test_a_before_each_step_check_is_not_judged_when_the_gate_holds_anyway() -> None:
    spec = with_checks(probe())
    remembered = CheckRecord("probe", CheckKind.PROMETHEUS, CheckVerdict.PASS, message="old")
    decision = decide(
        spec,
        GateState(weight=10, phase=Phase.PROGRESSING, checks={"probe": remembered}),
        {**healthy(spec), QueryKey("probe", Role.CHECK): 0.0},
        NOW,
        controls=Controls(pause=Control(ControlKind.PAUSE, "v2")),
    )
    (check,) = decision.checks
    assert (check.ran, check.verdict, check.message) == (False, CheckVerdict.PASS, "old")
    assert decision.state.checks["probe"] == remembered


def test_an_every_interval_check_holds_even_when_nothing_would_move() -> None:
    decision = run(
        with_checks(probe(CheckTiming.EVERY_INTERVAL)), value=0.0, phase=Phase.PROGRESSING
    )
    assert decision.action is Action.HOLD
    assert decision.checks[0].step == 10  # judged at the current weight


def test_a_before_first_step_check_runs_only_at_zero() -> None:
    spec = with_checks(probe(CheckTiming.BEFORE_FIRST_STEP))
    at_zero = run(spec, weight=0, value=0.0)
    assert (at_zero.action, at_zero.weight_next) == (Action.HOLD, 0)
    assert at_zero.checks[0].ran
    passed = run(spec, weight=0, value=1.0)
    assert (passed.action, passed.weight_next) == (Action.ADVANCE, 5)
    later = run(spec, weight=10, value=0.0)  # after the first step a failing value is ignored
    assert later.action is Action.ADVANCE
    assert not later.checks[0].ran


def test_a_webhook_check_is_wanted_before_the_step_then_decides() -> None:
    spec = with_checks(hook())
    first = run(spec, value=None)
    assert (first.action, first.weight_next) == (Action.HOLD, 10)
    assert (first.checks_wanted, first.checks_step) == (("smoke",), 25)
    assert first.reasons[0].code is ReasonCode.CHECK_PENDING

    ok = run(spec, value=None, answers={"smoke": CheckResult(25, 204, 0.012, "fine")})
    assert (ok.action, ok.weight_next, ok.checks_wanted) == (Action.ADVANCE, 25, ())
    assert ok.checks[0].latency_seconds == 0.012
    line = next(r for r in ok.reasons if r.code is ReasonCode.CHECK)
    assert line.message == (
        "check smoke (webhook, before each step) pass for the step to 25%: answered 204 (fine), "
        "12 ms"
    )

    refused = run(spec, value=None, answers={"smoke": CheckResult(25, 409, 0.01, "frozen")})
    assert refused.action is Action.HOLD
    assert refused.reasons[0].message.startswith("hold: check smoke failed: answered 409 (frozen)")


@pytest.mark.parametrize(
    "answer",
    [
        CheckResult(25, error="no answer within 5s (timeout)"),
        CheckResult(
            25, error="answered 302, a redirect to another host (http://evil:80): not followed"
        ),
        CheckResult(10, 200),  # an answer about another step is no answer about this one
    ],
    ids=["timeout", "redirect", "other-step"],
)
def test_a_webhook_without_an_answer_never_passes_and_never_rolls_back(answer: CheckResult) -> None:
    spec = with_checks(hook(severity=Severity.CRITICAL))
    decision = run(spec, value=None, answers={"smoke": answer})
    assert decision.action is Action.HOLD
    assert decision.weight_next == 10


def test_a_critical_webhook_refusal_rolls_back() -> None:
    spec = with_checks(hook(CheckTiming.EVERY_INTERVAL, severity=Severity.CRITICAL))
    decision = run(spec, value=None, answers={"smoke": CheckResult(10, 500, 0.1, "broken")})
    assert decision.action is Action.ROLLBACK


def test_nothing_is_wanted_from_a_gate_that_rolls_back_or_is_finished() -> None:
    spec = with_checks(hook(CheckTiming.EVERY_INTERVAL))
    done = run(spec, value=None, phase=Phase.PROMOTED, weight=100)
    assert done.checks_wanted == ()
