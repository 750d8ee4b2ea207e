"""What the shell measured for one evaluation: a value, or an explicit reason it is missing.

A segmented query (`sum by (region) (...)`, see `segmentBy`) is measured as one value per
segment, `Segmented`; everything else as one `Sample`.
"""

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

# One segment: the values of the `segmentBy` labels, in that order ("" for an absent label).
Segment = tuple[str, ...]


@dataclass(frozen=True)
class Segmented:
    """A query's answer as one value per segment, as Prometheus gave them (NaN and infinities
    are kept: whoever reads a segment decides what its value means)."""

    labels: tuple[str, ...]
    values: Mapping[Segment, float]


Observation = Sample | Segmented


class Role(StrEnum):
    GOOD = "good"
    TOTAL = "total"
    CANARY = "canary"
    BASELINE = "baseline"
    SAMPLES = "samples"
    # A success metric's queries: their own roles, so that a success metric and a guardrail
    # of the same name never share a key.
    SUCCESS_CANARY = "success-canary"
    SUCCESS_BASELINE = "success-baseline"
    SUCCESS_SAMPLES = "success-samples"
    SUCCESS_BASELINE_SAMPLES = "success-baseline-samples"
    # The age in seconds of a journey's newest sample (core.freshness).
    FRESHNESS = "freshness"
    # A check's query (core.checks): its own role, so a check and a guardrail of the same
    # name never share a key.
    CHECK = "check"
    # Proof of exposure (core.exposure): the canary's requests and all requests.
    EXPOSURE_CANARY = "exposure-canary"
    EXPOSURE_TOTAL = "exposure-total"


SUCCESS_ROLES = frozenset(
    {
        Role.SUCCESS_CANARY,
        Role.SUCCESS_BASELINE,
        Role.SUCCESS_SAMPLES,
        Role.SUCCESS_BASELINE_SAMPLES,
    }
)


@dataclass(frozen=True)
class QueryKey:
    """What a query measures: a journey's good/total over a window, or part of a guardrail."""

    subject: str
    role: Role
    window: Duration | None = None

    def __post_init__(self) -> None:
        # Keys are looked up tens of times per gate and tick: hash the fields once.
        object.__setattr__(self, "_hash", hash((self.subject, self.role, self.window)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]


Observations = Mapping[QueryKey, Observation]


@dataclass(frozen=True)
class QueryProblem:
    """A query Prometheus refused: a configuration error in the gate, not silence."""

    key: QueryKey
    message: str

    @property
    def query(self) -> str:
        """Which query of the spec, in the words of the spec."""
        if self.key.role is Role.FRESHNESS:
            return f"journey {self.key.subject} freshness (newest sample of sli.total)"
        if self.key.role in (Role.EXPOSURE_CANARY, Role.EXPOSURE_TOTAL):
            part = str(self.key.role).removeprefix("exposure-")
            return f"spec.canary.exposure.{part} query"
        if self.key.window is not None:
            return f"journey {self.key.subject} sli.{self.key.role} over {self.key.window}"
        if self.key.role is Role.CHECK:
            return f"check {self.key.subject} query"
        if self.key.role in SUCCESS_ROLES:
            part = str(self.key.role).removeprefix("success-")
            return f"success metric {self.key.subject} {part} query"
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
    if isinstance(sample, Segmented):
        return Missing(MissingKind.INVALID, "one value per segment where one value is needed")
    return sample_from_float(sample)


def lookup_sum(observations: Observations, key: QueryKey) -> Sample:
    """The value over every segment, as `sum(...)` of a segmented query gives it: what the
    query would answer without `by (...)`. A segment absent from the answer adds nothing; NaN
    or an infinity in one segment spoils the sum, as it would in Prometheus."""
    sample = observations.get(key)
    if isinstance(sample, Segmented):
        return sample_from_float(sum(sample.values.values(), 0.0))
    return lookup(observations, key)


def lookup_segments(observations: Observations, key: QueryKey) -> Mapping[Segment, float] | Missing:
    """One value per segment (raw floats: NaN and infinities are the reader's to judge), or
    why there is none."""
    sample = observations.get(key)
    if sample is None:
        return Missing(MissingKind.NOT_QUERIED, "no observation was supplied")
    if isinstance(sample, Missing):
        return sample
    if isinstance(sample, Segmented):
        return sample.values
    return Missing(MissingKind.INVALID, "one value where one value per segment is needed")


def describe_segment(labels: tuple[str, ...], segment: Segment) -> str:
    """`region eu-west`, `region eu-west, tier gold`; an absent label reads `(none)`."""
    return ", ".join(
        f"{label} {value or '(none)'}" for label, value in zip(labels, segment, strict=True)
    )
