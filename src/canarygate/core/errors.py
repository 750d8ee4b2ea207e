"""The one error hierarchy of canarygate.

It lives at the bottom layer so that every layer, the pure core included, raises from the
same tree; `canarygate.errors` re-exports it as the public face.

    CanarygateError
    ├── SpecError                 a gate spec is invalid; `.field` names the offending field
    ├── ConfigurationError        canarygate's own settings are unusable (a CA file, a token)
    ├── NotLeader                 this operator replica may not write: another one is active
    ├── MetricsError              Prometheus could not answer a query
    │   ├── NoDataError           the query answered, but with no usable value (empty, NaN, Inf)
    │   ├── QueryError            Prometheus refused the query (bad PromQL, too many series...)
    │   └── MetricsUnavailable    Prometheus unreachable, timed out, or 5xx after retries
    ├── ActuatorError             a traffic backend could not be read or written
    │   ├── TargetMissing         (canarygate.traffic) a routing object does not exist
    │   ├── TargetInvalid         (canarygate.traffic) it exists but cannot be managed as set
    │   ├── WeightUnavailable     (canarygate.traffic) the objects state no canary weight
    │   └── SnapshotInvalid       (canarygate.traffic) a saved routing is not this backend's
    └── KubeError                 a Kubernetes API request failed (`.verb`, `.target`, `.status`)
        ├── Conflict              409: the object changed since it was read (stale resourceVersion)
        ├── NotFound              404: the object (or its kind) does not exist
        ├── Forbidden             401/403: canarygate's identity may not do this
        └── KubeUnavailable       no usable answer: connection error, timeout, 5xx, 429, no config

Silence is never an error that promotes: callers turn every MetricsError into a
"missing" observation, which the core reads as unknown health or an inconclusive guardrail.
"""

from __future__ import annotations


class CanarygateError(Exception):
    """Root of every error raised on purpose by canarygate."""


class SpecError(CanarygateError):
    """A CanaryGate spec is invalid; `field` is a dotted path like `spec.journeys[0].objective`."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ConfigurationError(CanarygateError):
    """A setting given to the CLI or the operator (not a gate) cannot be used: a CA bundle that
    is not PEM, a token with characters HTTP cannot carry. The message says which and why."""


class NotLeader(CanarygateError):
    """A write was refused before it was sent: with several replicas, only the one holding
    the Lease acts, and this one does not (or no longer) hold it."""


class MetricsError(CanarygateError):
    """Prometheus could not produce a value. `query` is the PromQL sent, if any."""

    def __init__(self, message: str, *, query: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.query = query


class NoDataError(MetricsError):
    """The query succeeded but yielded nothing usable: no series, NaN or an infinity."""


class QueryError(MetricsError):
    """Prometheus rejected the query; retrying the same text cannot help."""


class MetricsUnavailable(MetricsError):
    """Prometheus could not be reached or kept failing after bounded retries."""


class ActuatorError(CanarygateError):
    """A traffic backend could not be read or patched."""


class KubeError(CanarygateError):
    """A Kubernetes API request failed. `verb` and `target` say what was attempted on which
    object (`patch`, `canarygates.canarygate.io/status shop/checkout`); `status` is the HTTP
    status when the server answered. Other refusals (400, 422...) are a plain KubeError."""

    def __init__(
        self, message: str, *, verb: str = "", target: str = "", status: int | None = None
    ) -> None:
        super().__init__(f"{verb} {target}: {message}" if verb or target else message)
        self.message = message
        self.verb = verb
        self.target = target
        self.status = status


class Conflict(KubeError):
    """409: a write carried a resourceVersion that is no longer current; re-read and retry."""


class NotFound(KubeError):
    """404: the object, its namespace or its resource type does not exist."""


class Forbidden(KubeError):
    """401 or 403: canarygate's credentials are refused for this verb on this object."""


class KubeUnavailable(KubeError):
    """The API server could not be reached or answered no usable result (connection error,
    timeout, 5xx, 429), or no cluster configuration could be loaded. Retrying may help."""
