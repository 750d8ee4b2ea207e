"""The metrics package's own refinements of `MetricsUnavailable`, so that callers can still
treat them all as "Prometheus could not answer" while counters and tests can tell them apart.

    MetricsError                     (canarygate.core.errors)
    ├── NoDataError                  kind "no-data"
    ├── QueryError                   kind "refused": bad PromQL, a matrix result...
    └── MetricsUnavailable           kind "unavailable": unreachable, timed out, 5xx
        ├── MalformedAnswer          kind "malformed": not a Prometheus answer
        ├── AnswerTooLarge           kind "too-large": past `max_response_bytes`
        └── CircuitOpen              kind "fail-fast": not sent, the breaker is open
"""

from __future__ import annotations

from typing import ClassVar

from canarygate.core.errors import MetricsError, MetricsUnavailable, NoDataError, QueryError


class MalformedAnswer(MetricsUnavailable):
    """Prometheus (or something in front of it) answered with something that is not a
    well-formed query result: not JSON, or JSON of the wrong shape."""

    kind: ClassVar[str] = "malformed"


class AnswerTooLarge(MetricsUnavailable):
    """The answer was longer than `max_response_bytes`; reading stopped there."""

    kind: ClassVar[str] = "too-large"


class CircuitOpen(MetricsUnavailable):
    """Not sent: recent queries found Prometheus down, or it asked us to wait."""

    kind: ClassVar[str] = "fail-fast"


def failure_kind(error: MetricsError) -> str:
    """A short, stable name for counting failures by kind (see `ClientStats.failures`)."""
    if isinstance(error, MalformedAnswer | AnswerTooLarge | CircuitOpen):
        return error.kind
    if isinstance(error, QueryError):
        return "refused"
    if isinstance(error, NoDataError):
        return "no-data"
    return "unavailable"
