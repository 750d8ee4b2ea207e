"""Pure decision core: SLO math, health, risk, matrix, guardrails and `decide`.

No I/O, no clock, no logging, and nothing imported but the standard library and this
package's own modules (checked by import-linter and by a test).
"""

from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision, Reason, ReasonCode
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import (
    ActuatorError,
    CanarygateError,
    MetricsError,
    MetricsUnavailable,
    NoDataError,
    QueryError,
    SpecError,
)
from canarygate.core.guardrails import GuardrailAssessment
from canarygate.core.health import JourneyAssessment
from canarygate.core.matrix import DEFAULT_MATRIX, MODE_BEHAVIOURS, matrix_as_markdown, mode_for
from canarygate.core.observations import (
    Missing,
    MissingKind,
    Observation,
    Observations,
    QueryKey,
    Role,
    Sample,
    Segment,
    Segmented,
)
from canarygate.core.queries import PlannedQuery, plan_queries
from canarygate.core.risk import RiskAssessment, assess_risk
from canarygate.core.segments import SegmentAssessment
from canarygate.core.specs import (
    DEFAULT_HEALTH_POLICY,
    BurnRateRule,
    CanarySpec,
    GateSpec,
    GuardrailSpec,
    HealthPolicy,
    HealthTier,
    JourneySegments,
    JourneySpec,
    MatrixPolicy,
    RiskFactors,
    RiskSpec,
    Segmentation,
    SliQueries,
    SuccessMetricSpec,
)
from canarygate.core.state import GateState
from canarygate.core.success import SuccessAssessment
from canarygate.core.vocabulary import (
    Action,
    Direction,
    Health,
    Lift,
    Mode,
    Phase,
    Risk,
    RiskLevel,
    Severity,
    Verdict,
)

__all__ = [
    "DEFAULT_HEALTH_POLICY",
    "DEFAULT_MATRIX",
    "MODE_BEHAVIOURS",
    "Action",
    "ActuatorError",
    "BurnRateRule",
    "CanarySpec",
    "CanarygateError",
    "Decision",
    "Direction",
    "Duration",
    "GateSpec",
    "GateState",
    "GuardrailAssessment",
    "GuardrailSpec",
    "Health",
    "HealthPolicy",
    "HealthTier",
    "JourneyAssessment",
    "JourneySegments",
    "JourneySpec",
    "Lift",
    "MatrixPolicy",
    "MetricsError",
    "MetricsUnavailable",
    "Missing",
    "MissingKind",
    "Mode",
    "NoDataError",
    "Observation",
    "Observations",
    "Phase",
    "PlannedQuery",
    "QueryError",
    "QueryKey",
    "Reason",
    "ReasonCode",
    "Risk",
    "RiskAssessment",
    "RiskFactors",
    "RiskLevel",
    "RiskSpec",
    "Role",
    "Sample",
    "Segment",
    "SegmentAssessment",
    "Segmentation",
    "Segmented",
    "Severity",
    "SliQueries",
    "SpecError",
    "SuccessAssessment",
    "SuccessMetricSpec",
    "Verdict",
    "assess_risk",
    "decide",
    "matrix_as_markdown",
    "mode_for",
    "parse_duration",
    "plan_queries",
]
