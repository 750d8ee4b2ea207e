"""Public face of the error hierarchy; the tree itself is documented in `canarygate.core.errors`."""

from canarygate.core.errors import (
    ActuatorError,
    CanarygateError,
    ConfigurationError,
    Conflict,
    Forbidden,
    KubeError,
    KubeUnavailable,
    MetricsError,
    MetricsUnavailable,
    NoDataError,
    NotFound,
    QueryError,
    SpecError,
)
from canarygate.traffic.errors import (
    SnapshotInvalid,
    TargetInvalid,
    TargetMissing,
    WeightUnavailable,
)

__all__ = [
    "ActuatorError",
    "CanarygateError",
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "KubeError",
    "KubeUnavailable",
    "MetricsError",
    "MetricsUnavailable",
    "NoDataError",
    "NotFound",
    "QueryError",
    "SnapshotInvalid",
    "SpecError",
    "TargetInvalid",
    "TargetMissing",
    "WeightUnavailable",
]
