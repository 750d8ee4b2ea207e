"""Public face of the error hierarchy; the tree itself is documented in `canarygate.core.errors`."""

from canarygate.core.errors import (
    ActuatorError,
    CanarygateError,
    ConfigurationError,
    MetricsError,
    MetricsUnavailable,
    NoDataError,
    QueryError,
    SpecError,
)

__all__ = [
    "ActuatorError",
    "CanarygateError",
    "ConfigurationError",
    "MetricsError",
    "MetricsUnavailable",
    "NoDataError",
    "QueryError",
    "SpecError",
]
