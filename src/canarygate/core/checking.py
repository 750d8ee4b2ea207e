"""Judging the checks of one evaluation (the data is in core.checks).

Which checks are due depends on what the gate would do: `everyInterval` checks at every
evaluation of a rollout in progress, `beforeEachStep` checks when the gate would take a step
or promote, `beforeFirstStep` checks when it would take its first step (the canary still at
0 %). A check that is not due keeps its last result. A webhook check that is due but has no
answer for this step yet is `pending`: `decide` holds and names it in `checks_wanted`, the
shell calls it, and `decide` runs again with the answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.checks import (
    CheckAssessment,
    CheckKind,
    CheckRecord,
    CheckResult,
    CheckSpec,
    CheckTiming,
    CheckVerdict,
    PrometheusCheck,
)
from canarygate.core.decisions import Reason, ReasonCode
from canarygate.core.observations import Missing, Observations, QueryKey, Role, lookup
from canarygate.core.vocabulary import Severity

SUCCESS_CODES = range(200, 300)
_TIMING_WORDS = {
    CheckTiming.BEFORE_FIRST_STEP: "before the first step",
    CheckTiming.BEFORE_EACH_STEP: "before each step",
    CheckTiming.EVERY_INTERVAL: "at every evaluation",
}


@dataclass(frozen=True)
class CheckGate:
    """What the checks make of an evaluation."""

    assessments: tuple[CheckAssessment, ...]
    rollback: tuple[Reason, ...]  # critical checks failed failureLimit times
    hold: tuple[Reason, ...]  # failing, unanswered or pending checks
    failed: bool  # a check failed (the count of passes starts again)
    wanted: tuple[str, ...]  # webhook checks to call before deciding again
    step: int | None  # the step to ask them about


def judge_checks(
    checks: Sequence[CheckSpec],
    remembered: Mapping[str, CheckRecord],
    observations: Observations,
    results: Mapping[str, CheckResult],
    *,
    weight: int,
    moving_to: int | None,
    active: bool,
    now: datetime,
) -> CheckGate:
    """Every check of the gate this evaluation. `moving_to` is the step (or 100 for the
    promotion) the gate would take without its checks, None when it holds; `active` is false
    when nothing is due at all (the rollout is over, or it rolls back anyway)."""
    assessments: list[CheckAssessment] = []
    wanted: list[str] = []
    step: int | None = None
    for check in checks:
        due_step = _due(check, weight, moving_to) if active else None
        previous = remembered.get(check.name)
        if due_step is None:
            assessments.append(_kept(check, previous))
            continue
        judged = _judge(check, previous, observations, results.get(check.name), due_step, now)
        if judged.verdict is CheckVerdict.PENDING:
            wanted.append(check.name)
            step = due_step if step is None else step
        assessments.append(judged)
    ran = [a for a in assessments if a.ran]
    rollback = tuple(_rollback_reason(a) for a in ran if a.limit_reached)
    hold = tuple(
        _hold_reason(a, moving_to)
        for a in ran
        if a.verdict in (CheckVerdict.FAIL, CheckVerdict.ERROR, CheckVerdict.PENDING)
    )
    return CheckGate(
        assessments=tuple(assessments),
        rollback=rollback,
        hold=hold,
        failed=any(a.verdict is CheckVerdict.FAIL for a in ran),
        wanted=tuple(wanted),
        step=step,
    )


def check_reasons(assessments: Sequence[CheckAssessment]) -> tuple[Reason, ...]:
    """Every check's result in words, whatever the action (judged now or remembered)."""
    return tuple(Reason(ReasonCode.CHECK, describe(a)) for a in assessments)


def describe(a: CheckAssessment) -> str:
    latency = f", {a.latency_seconds * 1000:.0f} ms" if a.latency_seconds is not None else ""
    step = (
        f" for the step to {a.step}%" if a.step is not None and a.kind is CheckKind.WEBHOOK else ""
    )
    when = "" if a.ran else " (last result; not due now)"
    what = f"check {a.name} ({a.kind}, {_TIMING_WORDS[a.when]})"
    return f"{what} {a.verdict}{when}{step}: {a.message}{latency}"


def _due(check: CheckSpec, weight: int, moving_to: int | None) -> int | None:
    """The step a due check is run for (the current weight for `everyInterval`), or None."""
    if check.when is CheckTiming.EVERY_INTERVAL:
        return weight
    if moving_to is None:
        return None
    if check.when is CheckTiming.BEFORE_FIRST_STEP and weight > 0:
        return None
    return moving_to


def _kept(check: CheckSpec, previous: CheckRecord | None) -> CheckAssessment:
    if previous is None:
        return _assessment(
            check,
            CheckVerdict.SKIPPED,
            0,
            f"not run yet: runs {_TIMING_WORDS[check.when]}",
            ran=False,
        )
    return CheckAssessment(
        name=check.name,
        kind=check.kind,
        when=check.when,
        severity=check.severity,
        failure_limit=check.failure_limit,
        verdict=previous.verdict,
        consecutive_failures=previous.consecutive_failures,
        message=previous.message,
        ran=False,
        value=previous.value,
        status_code=previous.status_code,
        latency_seconds=previous.latency_seconds,
        step=previous.step,
        at=previous.at,
    )


def _judge(
    check: CheckSpec,
    previous: CheckRecord | None,
    observations: Observations,
    result: CheckResult | None,
    step: int,
    now: datetime,
) -> CheckAssessment:
    failures = previous.consecutive_failures if previous else 0
    if check.prometheus is not None:
        return _judge_query(check, check.prometheus, observations, failures, step, now)
    if result is None or result.step != step:
        return _assessment(
            check, CheckVerdict.PENDING, failures, f"waiting for its answer about {step}%",
            ran=True, step=step, at=now,
        )  # fmt: skip
    if result.error is not None:
        verdict, message = CheckVerdict.ERROR, f"no answer to judge: {result.error}"
    elif result.status_code in SUCCESS_CODES:
        verdict, message = CheckVerdict.PASS, f"answered {result.status_code}"
    else:
        verdict, message = CheckVerdict.FAIL, f"answered {result.status_code}"
    if result.message:
        message += f" ({result.message})"
    return _assessment(
        check,
        verdict,
        _count(verdict, failures),
        message,
        ran=True,
        status_code=result.status_code,
        latency_seconds=result.latency_seconds,
        step=step,
        at=now,
    )


def _judge_query(
    check: CheckSpec,
    query: PrometheusCheck,
    observations: Observations,
    failures: int,
    step: int,
    now: datetime,
) -> CheckAssessment:
    sample = lookup(observations, QueryKey(check.name, Role.CHECK))
    if isinstance(sample, Missing):
        return _assessment(
            check, CheckVerdict.ERROR, failures, f"no value to judge ({sample.describe()})",
            ran=True, step=step, at=now,
        )  # fmt: skip
    inside = (query.min is None or sample >= query.min) and (
        query.max is None or sample <= query.max
    )
    verdict = CheckVerdict.PASS if inside else CheckVerdict.FAIL
    message = f"value {sample:g}, needs {query.bounds()}"
    return _assessment(
        check, verdict, _count(verdict, failures), message,
        ran=True, value=sample, step=step, at=now,
    )  # fmt: skip


def _count(verdict: CheckVerdict, failures: int) -> int:
    if verdict is CheckVerdict.FAIL:
        return failures + 1
    if verdict is CheckVerdict.PASS:
        return 0
    return failures  # no answer neither adds evidence of failure nor erases it


def _assessment(
    check: CheckSpec,
    verdict: CheckVerdict,
    failures: int,
    message: str,
    *,
    ran: bool,
    value: float | None = None,
    status_code: int | None = None,
    latency_seconds: float | None = None,
    step: int | None = None,
    at: datetime | None = None,
) -> CheckAssessment:
    return CheckAssessment(
        name=check.name,
        kind=check.kind,
        when=check.when,
        severity=check.severity,
        failure_limit=check.failure_limit,
        verdict=verdict,
        consecutive_failures=failures,
        message=message,
        ran=ran,
        value=value,
        status_code=status_code,
        latency_seconds=latency_seconds,
        step=step,
        at=at,
    )


def _rollback_reason(a: CheckAssessment) -> Reason:
    return Reason(
        ReasonCode.ROLLBACK,
        f"rollback: critical check {a.name} failed {a.consecutive_failures} consecutive "
        f"time(s) (failureLimit {a.failure_limit}): {a.message}",
    )


def _hold_reason(a: CheckAssessment, moving_to: int | None) -> Reason:
    move = f"; the step to {moving_to}% waits" if moving_to is not None else ""
    if a.verdict is CheckVerdict.PENDING:
        return Reason(ReasonCode.CHECK_PENDING, f"hold: check {a.name} {a.message}{move}")
    if a.verdict is CheckVerdict.ERROR:
        return Reason(
            ReasonCode.CHECK_ERROR,
            f"hold: check {a.name} could not be judged: {a.message}{move} (a check passes only "
            "on an answer, and never rolls back without one)",
        )
    limit = (
        f"; failure {a.consecutive_failures} of {a.failure_limit} before rollback"
        if a.severity is Severity.CRITICAL
        else ""
    )
    return Reason(ReasonCode.CHECK_FAILED, f"hold: check {a.name} failed: {a.message}{limit}{move}")
