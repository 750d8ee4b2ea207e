"""The scalar field types of the CanaryGate models, as strict as the API server's schema.

The API server validates JSON against the CRD's OpenAPI types: a quoted `"99.9"` is not a
number, `"yes"` is not a boolean, `5` is not a string. pydantic's default (lax) mode would
coerce all of these, so every scalar here is strict, with the API server's one leniency
kept: a number with no fraction (`5.0`) is a valid integer. Numbers are finite (JSON cannot
carry NaN or an infinity, so nothing the API server stores holds one) and the CRD bounds
each of them; durations are bounded here and by CEL rules in the CRD.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final

from annotated_types import Ge, Le
from pydantic import AfterValidator, AllowInfNan, BeforeValidator, Strict, StringConstraints
from pydantic_core import PydanticCustomError

from canarygate.core.durations import DURATION_PATTERN, Duration, parse_duration
from canarygate.core.errors import SpecError


def _integral(value: Any) -> Any:
    """`5.0` -> `5`, as the API server accepts a fraction-less number for `type: integer`."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _text_only(value: Any) -> Any:
    """Enums and timestamps are strings in the schema; refuse bytes, numbers and the like."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    return value


INTEGRAL: Final = BeforeValidator(_integral)
TEXT_ONLY: Final = BeforeValidator(_text_only)

# Bounds of numbers the CRD types as `number`; the same figures are in the CRD YAML.
GUARDRAIL_LIMIT: Final = 1_000_000_000_000_000  # |max|, maxIncrease, minSamples
WEIGHT_LIMIT: Final = 1000
BURN_RATE_LIMIT: Final = 1_000_000
BUDGET_FLOOR: Final = -1000
# Segments: labels per segmentBy, the highest cap a gate may set, named segment objectives.
SEGMENT_LABELS_LIMIT: Final = 3
SEGMENTS_LIMIT: Final = 100
LIFT_LIMIT: Final = 100  # minLift, a relative lift (100 = +10,000 %)

Text = Annotated[str, Strict()]
Flag = Annotated[bool, Strict()]
Number = Annotated[float, Strict(), AllowInfNan(False)]
Generation = Annotated[int, Strict(), INTEGRAL]
Count = Annotated[int, Strict(), Ge(0), INTEGRAL]
Percent = Annotated[int, Strict(), Ge(0), Le(100), INTEGRAL]
StepPercent = Annotated[int, Strict(), Ge(1), Le(100), INTEGRAL]
FailureLimit = Annotated[int, Strict(), Ge(1), Le(100), INTEGRAL]
GuardedPasses = Annotated[int, Strict(), Ge(1), Le(10), INTEGRAL]
ReplicaCount = Annotated[int, Strict(), Ge(1), Le(1000), INTEGRAL]
SegmentCap = Annotated[int, Strict(), Ge(1), Le(SEGMENTS_LIMIT), INTEGRAL]
Timestamp = Annotated[datetime, TEXT_ONLY]

NAME_PATTERN: Final = r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$"
DurationText = Annotated[str, Strict(), StringConstraints(max_length=32, pattern=DURATION_PATTERN)]
Query = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=4096)]
ItemName = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=63, pattern=NAME_PATTERN)
]
ObjectName = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=253)]
OptionalObjectName = Annotated[str, Strict(), StringConstraints(max_length=253)]
# A Prometheus label name a segment is told apart by; `__` names are Prometheus' own.
LABEL_PATTERN: Final = r"^[a-zA-Z][a-zA-Z0-9_]*$"
LabelName = Annotated[
    str, Strict(), StringConstraints(min_length=1, max_length=128, pattern=LABEL_PATTERN)
]


@dataclass(frozen=True)
class DurationBounds:
    """The shortest and longest a duration field may be, as written in messages. The CRD
    repeats each pair as a CEL rule with the same message (test_crd_drift.py compares them)."""

    shortest: str
    longest: str

    @property
    def range(self) -> tuple[Duration, Duration]:
        return parse_duration(self.shortest), parse_duration(self.longest)

    @property
    def message(self) -> str:
        return f"must be between {self.shortest} and {self.longest}"

    def check(self, value: str) -> str:
        """A pydantic validator: `value` parses (units descending, positive) and fits."""
        try:
            duration = parse_duration(value)
        except SpecError as error:
            raise ValueError(error.message) from None
        shortest, longest = self.range
        if not shortest <= duration <= longest:
            raise ValueError(f"{self.message}, got {value}")
        return value


TIMEOUT_BOUNDS: Final = DurationBounds("1s", "5m")
INTERVAL_BOUNDS: Final = DurationBounds("1s", "24h")
COMPLIANCE_WINDOW_BOUNDS: Final = DurationBounds("1h", "400d")
BURN_WINDOW_BOUNDS: Final = DurationBounds("1m", "400d")
# The freshness query looks an hour back for the newest sample (core.freshness.LOOKBACK).
SAMPLE_AGE_BOUNDS: Final = DurationBounds("30s", "1h")
# A webhook check's call; the operator waits for it before that gate's transition.
WEBHOOK_TIMEOUT_BOUNDS: Final = DurationBounds("1s", "1m")
FREEZE_COOLDOWN_BOUNDS: Final = DurationBounds("1s", "24h")
# Proof of exposure: a window a few scrapes long at least, and short enough to follow a step.
EXPOSURE_WINDOW_BOUNDS: Final = DurationBounds("5s", "1h")

Timeout = Annotated[DurationText, AfterValidator(TIMEOUT_BOUNDS.check)]
Interval = Annotated[DurationText, AfterValidator(INTERVAL_BOUNDS.check)]
ComplianceWindow = Annotated[DurationText, AfterValidator(COMPLIANCE_WINDOW_BOUNDS.check)]
BurnWindow = Annotated[DurationText, AfterValidator(BURN_WINDOW_BOUNDS.check)]
SampleAge = Annotated[DurationText, AfterValidator(SAMPLE_AGE_BOUNDS.check)]
WebhookTimeout = Annotated[DurationText, AfterValidator(WEBHOOK_TIMEOUT_BOUNDS.check)]
FreezeCooldown = Annotated[DurationText, AfterValidator(FREEZE_COOLDOWN_BOUNDS.check)]
ExposureWindow = Annotated[DurationText, AfterValidator(EXPOSURE_WINDOW_BOUNDS.check)]

# Kubernetes object names (k8s.io/apimachinery/pkg/util/validation), checked as the API
# server checks them, so that a name can never carry a newline or an escape sequence.
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = re.compile(rf"{_DNS1123_LABEL}(\.{_DNS1123_LABEL})*")
_LABEL = re.compile(_DNS1123_LABEL)


def check_object_name(value: str) -> str:
    if len(value) > 253 or not _SUBDOMAIN.fullmatch(value):
        raise ValueError(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', start and end with an alphanumeric character, "
            "and be at most 253 characters"
        )
    return value


def check_namespace(value: str) -> str:
    if len(value) > 63 or not _LABEL.fullmatch(value):
        raise ValueError(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
            "or '-', start and end with an alphanumeric character, and be at most 63 "
            "characters"
        )
    return value
