"""Checks that block a step: a Prometheus query with a pass condition, or an HTTP webhook.

A check answers "may the canary go on?" from outside the SLIs: a blackbox exporter's
`probe_success` for the exact customer journey run against the canary, a smoke test, a
release-management system. It runs before the first step (so a gate has evidence while the
canary still has no traffic), before each step, or at every evaluation (`CheckTiming`).

Outcomes (`CheckVerdict`): `pass`; `fail` (the value is outside its bounds, or the webhook
answered anything but 2xx), which holds, and for a `critical` check reached `failureLimit`
times rolls back; `error` (no data, a timeout, an unreachable or misbehaving webhook), which
holds and never rolls back: silence never passes and never rolls back on its own; `pending`
(a webhook whose answer this evaluation still needs) and `skipped` (not due now: its last
result is kept).

The data lives here; `core.checking` judges; the webhook is called by the shell
(`canarygate.webhooks`), which hands `CheckResult`s back to `decide`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from canarygate.core.durations import Duration
from canarygate.core.vocabulary import Severity

WEBHOOK_TIMEOUT = Duration(5_000)


class CheckTiming(StrEnum):
    BEFORE_FIRST_STEP = "beforeFirstStep"
    BEFORE_EACH_STEP = "beforeEachStep"
    EVERY_INTERVAL = "everyInterval"


class CheckKind(StrEnum):
    PROMETHEUS = "prometheus"
    WEBHOOK = "webhook"


class CheckVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    PENDING = "pending"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class PrometheusCheck:
    """Passes when the query's one value lies within [min, max] (either bound may be open)."""

    query: str
    min: float | None = None
    max: float | None = None

    def bounds(self) -> str:
        if self.min is not None and self.max is not None:
            return f"within [{self.min:g}, {self.max:g}]"
        if self.min is not None:
            return f">= {self.min:g}"
        return f"<= {self.max:g}"


@dataclass(frozen=True)
class WebhookCheck:
    """POSTed the gate, the revision and the step; a 2xx answer passes."""

    url: str
    timeout: Duration = WEBHOOK_TIMEOUT


@dataclass(frozen=True)
class CheckSpec:
    name: str
    when: CheckTiming = CheckTiming.BEFORE_EACH_STEP
    severity: Severity = Severity.MINOR
    failure_limit: int = 1
    prometheus: PrometheusCheck | None = None
    webhook: WebhookCheck | None = None

    @property
    def kind(self) -> CheckKind:
        return CheckKind.WEBHOOK if self.webhook is not None else CheckKind.PROMETHEUS


@dataclass(frozen=True)
class CheckResult:
    """A webhook's answer as the shell received it. `error` is set when there was no answer
    to judge (a timeout, a refused connection, a redirect to another host, an answer too
    large): that is never a pass. `step` is the canary percent the call asked about."""

    step: int
    status_code: int | None = None
    latency_seconds: float | None = None
    message: str = ""
    error: str | None = None


@dataclass(frozen=True)
class CheckRecord:
    """A check's last judged result, remembered in status between evaluations."""

    name: str
    kind: CheckKind
    verdict: CheckVerdict
    consecutive_failures: int = 0
    message: str = ""
    value: float | None = None
    status_code: int | None = None
    latency_seconds: float | None = None
    step: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class CheckAssessment:
    """One check in one evaluation: judged now (`ran`), or its remembered result."""

    name: str
    kind: CheckKind
    when: CheckTiming
    severity: Severity
    failure_limit: int
    verdict: CheckVerdict
    consecutive_failures: int
    message: str
    ran: bool
    value: float | None = None
    status_code: int | None = None
    latency_seconds: float | None = None
    step: int | None = None
    at: datetime | None = None

    @property
    def limit_reached(self) -> bool:
        return (
            self.ran
            and self.verdict is CheckVerdict.FAIL
            and self.severity is Severity.CRITICAL
            and self.consecutive_failures >= self.failure_limit
        )

    def record(self) -> CheckRecord:
        return CheckRecord(
            name=self.name,
            kind=self.kind,
            verdict=self.verdict,
            consecutive_failures=self.consecutive_failures,
            message=self.message,
            value=self.value,
            status_code=self.status_code,
            latency_seconds=self.latency_seconds,
            step=self.step,
            at=self.at,
        )
