"""The outcome of one evaluation: the action, the weights, and every reason behind it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from canarygate.core.checks import CheckAssessment
from canarygate.core.exposure import ExposureAssessment
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.observations import QueryProblem
from canarygate.core.risk import RiskAssessment
from canarygate.core.state import GateState
from canarygate.core.success import SuccessAssessment
from canarygate.core.vocabulary import Action, Health, Mode
from canarygate.core.windows import WindowJudged

if TYPE_CHECKING:  # core.freshness builds its reasons from this module
    from canarygate.core.freshness import Freshness


class ReasonCode(StrEnum):
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    QUERY_ERROR = "QueryError"
    INVALID_EVIDENCE = "InvalidEvidence"
    STALE_DATA = "StaleData"
    HEALTH = "Health"
    JOURNEY = "Journey"
    SEGMENT = "Segment"
    RISK = "Risk"
    MODE = "Mode"
    GUARDRAIL_FAILED = "GuardrailFailed"
    GUARDRAIL_INCONCLUSIVE = "GuardrailInconclusive"
    GUARDRAIL_LIMIT = "GuardrailFailureLimit"
    PASSES_NEEDED = "ConsecutivePassesNeeded"
    NOT_NEUTRAL = "NotCustomerNeutral"
    COHORT = "Cohort"
    SUCCESS_METRIC = "SuccessMetric"
    SUCCESS_METRIC_HOLD = "SuccessMetricHold"
    # A peak or freeze window applies (core.windows).
    WINDOW = "Window"
    # Proof of exposure (core.exposure): the canary served a share its weight does not explain;
    # or its telemetry is silent, or its exposure cannot be told (silence, not health).
    EXPOSURE = "Exposure"
    EXPOSURE_SILENT = "ExposureSilent"
    ADVANCE = "Advance"
    PROMOTE = "Promote"
    ROLLBACK = "Rollback"
    HOLD = "Hold"
    TERMINAL = "Finished"
    # Manual controls, the incident-aware freeze and the checks (core.controls,
    # core.incidents, core.checking).
    PAUSED = "Paused"
    FREEZE = "Freeze"
    FREEZE_COOLDOWN = "FreezeCooldown"
    FREEZE_CLEARED = "FreezeCleared"
    HOTFIX = "Hotfix"
    CHECK = "Check"
    CHECK_FAILED = "CheckFailed"
    CHECK_ERROR = "CheckError"
    CHECK_PENDING = "CheckPending"


@dataclass(frozen=True)
class Reason:
    code: ReasonCode
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Decision:
    at: datetime
    action: Action
    health: Health
    risk: RiskAssessment
    mode: Mode
    weight_current: int
    weight_next: int
    reasons: tuple[Reason, ...]
    journeys: tuple[JourneyAssessment, ...]
    guardrails: tuple[GuardrailAssessment, ...]
    score: float | None
    state: GateState
    # Queries Prometheus refused: the Error outcome. It holds like silence, but the gate's
    # spec must be fixed, so it is reported apart from unknown health.
    errors: tuple[QueryProblem, ...] = ()
    # Success metrics, canary against baseline: they decide only whether the last step promotes.
    success_metrics: tuple[SuccessAssessment, ...] = ()
    # How old each journey's newest sample was (core.freshness).
    freshness: tuple[Freshness, ...] = ()
    # Checks that block a step (core.checking), judged or remembered.
    checks: tuple[CheckAssessment, ...] = ()
    # Webhook checks whose answers this decision still needs, and the step to ask them about:
    # the shell calls them and decides again with their results (`decide(..., checks=...)`).
    checks_wanted: tuple[str, ...] = ()
    checks_step: int | None = None
    # When a freeze's cooldown ends, while one runs (core.incidents; the episode is in state).
    cooldown_until: datetime | None = None
    # Every peak or freeze window of the gate, judged at `at` (core.windows).
    windows: tuple[WindowJudged, ...] = ()
    # The mode a freeze window turned into freeze (the matrix cell's, or the hotfix lane's),
    # when one did; None otherwise.
    window_froze: Mode | None = None
    # The share of requests the canary served against its route's weight (core.exposure);
    # None when the gate declares no exposure queries.
    exposure: ExposureAssessment | None = None
    # The move this hold makes once a person approves it (core.approval), whatever the gate's
    # approval policy: a promotion that only success metrics worse than the baseline hold.
    # None for every other decision.
    awaits_approval: Action | None = None
