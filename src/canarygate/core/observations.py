"""What the shell measured for one evaluation: a value, or an explicit reason it is missing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from canarygate.core.durations import Duration


class MissingKind(StrEnum):
    NO_DATA = "no-data"
    NOT_A_NUMBER = "nan"
    INFINITE = "inf"
    # A value that cannot be a true measurement (good > total, a negative count or rate).
    INVALID = "invalid-evidence"
    # Prometheus refused the query (bad PromQL, several series): the gate must be fixed.
    QUERY_ERROR = "query-error"
    UNREACHABLE = "unreachable"
    NOT_QUERIED = "not-queried"


@dataclass(frozen=True)
class Missing:
    """No usable value. Never read as zero: the core turns it into unknown or inconclusive."""

    kind: MissingKind
    detail: str = ""

    def describe(self) -> str:
        return f"{self.kind}: {self.detail}" if self.detail else str(self.kind)


Sample = float | Missing


class Role(StrEnum):
    GOOD = "good"
    TOTAL = "total"
    CANARY = "canary"
    BASELINE = "baseline"
    SAMPLES = "samples"


@dataclass(frozen=True)
class QueryKey:
    """What a query measures: a journey's good/total over a window, or part of a guardrail."""

    subject: str
    role: Role
    window: Duration | None = None


Observations = Mapping[QueryKey, Sample]


@dataclass(frozen=True)
class QueryProblem:
    """A query Prometheus refused: a configuration error in the gate, not silence."""

    key: QueryKey
    message: str

    @property
    def query(self) -> str:
        """Which query of the spec, in the words of the spec."""
        if self.key.window is not None:
            return f"journey {self.key.subject} sli.{self.key.role} over {self.key.window}"
        return f"guardrail {self.key.subject} {self.key.role} query"

    def describe(self) -> str:
        return f"{self.query}: {self.message}"


def query_problems(observations: Observations) -> tuple[QueryProblem, ...]:
    """Every refused query, in a stable order (journeys and guardrails by name, then role)."""
    found = [
        QueryProblem(key, sample.detail or str(sample.kind))
        for key, sample in observations.items()
        if isinstance(sample, Missing) and sample.kind is MissingKind.QUERY_ERROR
    ]
    return tuple(
        sorted(
            found,
            key=lambda p: (
                p.key.subject,
                str(p.key.role),
                p.key.window.milliseconds if p.key.window else 0,
            ),
        )
    )


def sample_from_float(value: float) -> Sample:
    """NaN and infinities are not measurements; say so instead of passing them on."""
    if math.isnan(value):
        return Missing(MissingKind.NOT_A_NUMBER, "query returned NaN")
    if math.isinf(value):
        return Missing(MissingKind.INFINITE, "query returned an infinity")
    return float(value)


def lookup(observations: Observations, key: QueryKey) -> Sample:
    sample = observations.get(key)
    if sample is None:
        return Missing(MissingKind.NOT_QUERIED, "no observation was supplied")
    if isinstance(sample, Missing):
        return sample
    return sample_from_float(sample)
