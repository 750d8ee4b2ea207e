"""Named constants of what the operator says: Event reasons and condition types and reasons.

Scripts and alerts match on these words, so they are defined once and never spelled inline.
"""

from __future__ import annotations

from enum import StrEnum


class EventReason(StrEnum):
    ROLLOUT_STARTED = "RolloutStarted"
    ADVANCED = "Advanced"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    HOLD_STARTED = "HoldStarted"
    WAITING_FOR_TRAFFIC = "WaitingForTraffic"
    WAITING_FOR_APPROVAL = "WaitingForApproval"
    FROZEN = "Frozen"
    UNFROZEN = "Unfrozen"
    QUERY_ERROR = "QueryError"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    INVALID_SPEC = "InvalidSpec"
    TRAFFIC_ERROR = "TrafficError"
    WEIGHT_MISMATCH = "WeightMismatch"
    INTENT_COMPLETED = "IntentCompleted"
    INTENT_ABANDONED = "IntentAbandoned"
    TRAFFIC_RESTORED = "TrafficRestored"
    # Manual controls acknowledged (operator.controlling).
    PAUSED = "Paused"
    RESUMED = "Resumed"
    ABORTED = "Aborted"
    FORCE_PROMOTED = "ForcePromoted"
    FREEZE_CLEARED = "FreezeCleared"
    CONTROL_IGNORED = "ControlIgnored"
    # The spec was edited during a rollout (operator.auditing).
    SPEC_EDITED = "SpecEdited"
    # Judge-only gates (provider external): judging a revision starts; the verdict changed.
    JUDGING_STARTED = "JudgingStarted"
    VERDICT_CHANGED = "VerdictChanged"


class ConditionType(StrEnum):
    # The spec is one canarygate can act on (the API server's schema cannot check it all).
    SPEC_VALID = "SpecValid"
    # Prometheus answered with usable evidence (False: unreachable, silent or invalid).
    METRICS_AVAILABLE = "MetricsAvailable"
    # Every query was accepted by Prometheus (False is the Error outcome: fix the spec).
    QUERIES_ACCEPTED = "QueriesAccepted"
    # The routing objects exist and carry the weight canarygate set.
    TRAFFIC_READY = "TrafficReady"


class ConditionReason(StrEnum):
    VALID = "Valid"
    INVALID = "Invalid"
    ANSWERED = "Answered"
    PROMETHEUS_UNAVAILABLE = "PrometheusUnavailable"
    NO_DATA = "NoData"
    STALE_DATA = "StaleData"
    INVALID_EVIDENCE = "InvalidEvidence"
    ACCEPTED = "Accepted"
    QUERY_ERROR = "QueryError"
    WEIGHT_VERIFIED = "WeightVerified"
    WEIGHT_MISMATCH = "WeightMismatch"
    CANNOT_TELL = "CannotTell"
    TARGET_MISSING = "TargetMissing"
    TARGET_INVALID = "TargetInvalid"
    API_ERROR = "ApiError"
