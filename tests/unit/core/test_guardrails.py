from __future__ import annotations

import pytest

from canarygate.core import GuardrailSpec, Missing, MissingKind, Severity, Verdict
from canarygate.core.guardrails import judge_guardrail

from .builders import guardrail_observations

ERRORS = GuardrailSpec(
    name="errors", canary="c", baseline="b", max=0.01, max_increase=0.005, samples="n",
    min_samples=100, severity=Severity.CRITICAL, failure_limit=2,
)  # fmt: skip


def verdict(canary: float | Missing, baseline: float | Missing = 0.001, samples: float = 500):  # type: ignore[no-untyped-def]
    return judge_guardrail(ERRORS, guardrail_observations("errors", canary, baseline, samples), 0)


def test_within_limits_passes() -> None:
    assert verdict(0.004).verdict is Verdict.PASS


def test_over_max_fails() -> None:
    result = verdict(0.02, baseline=0.019)
    assert result.verdict is Verdict.FAIL
    assert "max 0.01" in result.finding


def test_increase_over_baseline_fails() -> None:
    result = verdict(0.008, baseline=0.001)
    assert result.verdict is Verdict.FAIL
    assert "maxIncrease" in result.finding


def test_too_few_samples_is_inconclusive_even_when_over_max() -> None:
    # A handful of requests cannot prove a canary bad: that is how false rollbacks happen.
    assert verdict(0.5, samples=20).verdict is Verdict.INCONCLUSIVE


@pytest.mark.parametrize("kind", list(MissingKind))
def test_missing_canary_value_is_inconclusive(kind: MissingKind) -> None:
    assert verdict(Missing(kind)).verdict is Verdict.INCONCLUSIVE


def test_missing_baseline_is_inconclusive_unless_max_already_fails() -> None:
    silent = Missing(MissingKind.NO_DATA)
    assert verdict(0.004, baseline=silent).verdict is Verdict.INCONCLUSIVE
    assert verdict(0.5, baseline=silent).verdict is Verdict.FAIL


def test_failures_count_across_evaluations_and_reset_on_pass() -> None:
    failing = guardrail_observations("errors", 0.5, 0.001, 500)
    first = judge_guardrail(ERRORS, failing, 0)
    second = judge_guardrail(ERRORS, failing, first.consecutive_failures)
    assert (first.consecutive_failures, first.limit_reached) == (1, False)
    assert (second.consecutive_failures, second.limit_reached) == (2, True)
    passing = guardrail_observations("errors", 0.001, 0.001, 500)
    assert judge_guardrail(ERRORS, passing, 2).consecutive_failures == 0


def test_silence_keeps_the_failure_count() -> None:
    silent = guardrail_observations("errors", Missing(MissingKind.UNREACHABLE), 0.001, 500)
    assert judge_guardrail(ERRORS, silent, 1).consecutive_failures == 1
