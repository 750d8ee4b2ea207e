"""Conditions a decision or a traffic move implies (pure)."""

from __future__ import annotations

from canarygate.api.status import ConditionUpdate
from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.errors import ActuatorError, KubeError
from canarygate.core.vocabulary import Health
from canarygate.operator.vocabulary import ConditionReason, ConditionType
from canarygate.traffic import CheckOutcome, TargetInvalid, TargetMissing, WeightCheck


def from_decision(decision: Decision) -> list[ConditionUpdate]:
    codes = {reason.code for reason in decision.reasons}
    first = {reason.code: reason.message for reason in reversed(decision.reasons)}
    if ReasonCode.PROMETHEUS_UNAVAILABLE in codes:
        metrics = ConditionUpdate(
            ConditionType.METRICS_AVAILABLE,
            "False",
            ConditionReason.PROMETHEUS_UNAVAILABLE,
            first[ReasonCode.PROMETHEUS_UNAVAILABLE],
        )
    elif ReasonCode.INVALID_EVIDENCE in codes:
        metrics = ConditionUpdate(
            ConditionType.METRICS_AVAILABLE,
            "False",
            ConditionReason.INVALID_EVIDENCE,
            first[ReasonCode.INVALID_EVIDENCE],
        )
    elif ReasonCode.STALE_DATA in codes and decision.health is Health.UNKNOWN:
        metrics = ConditionUpdate(
            ConditionType.METRICS_AVAILABLE,
            "False",
            ConditionReason.STALE_DATA,
            "; ".join(r.message for r in decision.reasons if r.code is ReasonCode.STALE_DATA),
        )
    elif decision.health is Health.UNKNOWN:
        silent = [f for j in decision.journeys if not j.complete for f in j.findings]
        metrics = ConditionUpdate(
            ConditionType.METRICS_AVAILABLE,
            "False",
            ConditionReason.NO_DATA,
            "; ".join(silent) or "customer health is unknown",
        )
    else:
        metrics = ConditionUpdate(
            ConditionType.METRICS_AVAILABLE,
            "True",
            ConditionReason.ANSWERED,
            "every journey query answered",
        )
    if decision.errors:
        queries = ConditionUpdate(
            ConditionType.QUERIES_ACCEPTED,
            "False",
            ConditionReason.QUERY_ERROR,
            "; ".join(problem.describe() for problem in decision.errors),
        )
    else:
        queries = ConditionUpdate(
            ConditionType.QUERIES_ACCEPTED, "True", ConditionReason.ACCEPTED, "no query refused"
        )
    return [metrics, queries, spec_valid()]


def spec_valid() -> ConditionUpdate:
    return ConditionUpdate(
        ConditionType.SPEC_VALID, "True", ConditionReason.VALID, "canarygate accepts the spec"
    )


def spec_invalid(problem: str) -> ConditionUpdate:
    return ConditionUpdate(
        ConditionType.SPEC_VALID,
        "False",
        ConditionReason.INVALID,
        f"{problem}; nothing is actuated until the spec is fixed",
    )


def from_check(check: WeightCheck) -> ConditionUpdate:
    status, reason = {
        CheckOutcome.VERIFIED: ("True", ConditionReason.WEIGHT_VERIFIED),
        CheckOutcome.MISMATCH: ("False", ConditionReason.WEIGHT_MISMATCH),
        CheckOutcome.CANNOT_TELL: ("Unknown", ConditionReason.CANNOT_TELL),
    }[check.outcome]
    return ConditionUpdate(ConditionType.TRAFFIC_READY, status, reason, check.reason)


def from_traffic_error(error: Exception) -> ConditionUpdate:
    if isinstance(error, TargetMissing):
        reason = ConditionReason.TARGET_MISSING
    elif isinstance(error, TargetInvalid | ActuatorError):
        reason = ConditionReason.TARGET_INVALID
    elif isinstance(error, KubeError):
        reason = ConditionReason.API_ERROR
    else:
        reason = ConditionReason.API_ERROR
    return ConditionUpdate(ConditionType.TRAFFIC_READY, "False", reason, str(error))


def weight_mismatch(message: str) -> ConditionUpdate:
    return ConditionUpdate(
        ConditionType.TRAFFIC_READY, "False", ConditionReason.WEIGHT_MISMATCH, message
    )
