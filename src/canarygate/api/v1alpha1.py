"""Pydantic mirror of the CanaryGate v1alpha1 CRD (`crds/canarygate.io_canarygates.yaml`).

The CRD is the source of truth; `tests/unit/api/test_crd_drift.py` fails when these models
and the CRD schema disagree. Validators below repeat the CRD's CEL rules so the CLI refuses
the same specs as the API server, with the same messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from canarygate.core import defaults
from canarygate.core.durations import DURATION_PATTERN, parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.templating import TEMPLATE_VARIABLES, check_template
from canarygate.core.vocabulary import (
    Action,
    Health,
    Mode,
    Phase,
    Risk,
    RiskLevel,
    Severity,
    Verdict,
)

API_GROUP: Final = "canarygate.io"
API_VERSION: Final = "canarygate.io/v1alpha1"
KIND: Final = "CanaryGate"
PLURAL: Final = "canarygates"

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$"
DurationText = Annotated[str, StringConstraints(max_length=32, pattern=DURATION_PATTERN)]
Query = Annotated[str, StringConstraints(min_length=1, max_length=4096)]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=NAME_PATTERN)]
ObjectName = Annotated[str, StringConstraints(min_length=1, max_length=253)]
OptionalObjectName = Annotated[str, StringConstraints(max_length=253)]
AnyMode = Literal["proceed", "guarded", "neutral-only", "delay", "freeze", "hold"]
NonAdvancingMode = Literal["delay", "freeze", "hold"]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=False,
    )


def _check_duration(value: str) -> str:
    """Deeper than the CRD pattern: units must descend and the span must be positive."""
    try:
        parse_duration(value)
    except SpecError as error:
        raise ValueError(error.message) from None
    return value


def _check_query(
    value: str | None, *, allowed: Iterable[str], required: Iterable[str] = ()
) -> str | None:
    if value is not None:
        try:
            check_template(value, field="query", allowed=allowed, required=required)
        except SpecError as error:
            raise ValueError(error.message) from None
    return value


class PrometheusModel(_Model):
    address: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")]
    timeout: DurationText = defaults.QUERY_TIMEOUT.text

    _timeout = field_validator("timeout")(_check_duration)


class RiskFactorsModel(_Model):
    # Free text: organisations name tiers differently; only "critical" raises the risk.
    tier: ItemName | None = None
    change_type: (
        Literal["code", "config", "infra", "schema-migration", "feature-flag", "dependency"] | None
    ) = None
    customer_neutral: bool = False
    reversible: bool = False


class RiskModel(_Model):
    level: RiskLevel = RiskLevel.AUTO
    factors: RiskFactorsModel = Field(default_factory=RiskFactorsModel)


class SliModel(_Model):
    good: Query
    total: Query

    @field_validator("good", "total")
    @classmethod
    def _templates(cls, value: str) -> str | None:
        return _check_query(value, allowed=TEMPLATE_VARIABLES, required=("window",))


class JourneyModel(_Model):
    name: ItemName
    objective: float = Field(gt=0, lt=100)
    window: DurationText = defaults.COMPLIANCE_WINDOW.text
    critical: bool = True
    weight: float = Field(default=defaults.JOURNEY_WEIGHT, ge=0)
    sli: SliModel

    _window = field_validator("window")(_check_duration)


class BurnRateRuleModel(_Model):
    long: DurationText
    short: DurationText
    threshold: float = Field(gt=0)

    _durations = field_validator("long", "short")(_check_duration)

    @model_validator(mode="after")
    def _windows(self) -> BurnRateRuleModel:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long {self.long}")
        return self


class HealthTierModel(_Model):
    burn_rates: list[BurnRateRuleModel] | None = Field(default=None, max_length=8)
    budget_remaining_at_most: float | None = Field(default=None, le=1)
    budget_remaining_below: float | None = Field(default=None, le=1)


class HealthPolicyModel(_Model):
    red: HealthTierModel | None = None
    yellow: HealthTierModel | None = None


class GatewayApiTrafficModel(_Model):
    http_route: ObjectName
    stable_backend: ObjectName
    canary_backend: ObjectName


class IstioTrafficModel(_Model):
    virtual_service: ObjectName
    route: OptionalObjectName | None = None
    stable_host: ObjectName
    canary_host: ObjectName
    stable_subset: OptionalObjectName | None = None
    canary_subset: OptionalObjectName | None = None


class NginxTrafficModel(_Model):
    ingress: ObjectName
    canary_ingress: ObjectName


class ReplicasTrafficModel(_Model):
    stable_deployment: ObjectName
    canary_deployment: ObjectName
    total_replicas: int = Field(ge=1, le=1000)


Provider = Literal["gatewayAPI", "istio", "nginx", "replicas"]


class TrafficModel(_Model):
    provider: Provider
    gateway_api: GatewayApiTrafficModel | None = Field(default=None, alias="gatewayAPI")
    istio: IstioTrafficModel | None = None
    nginx: NginxTrafficModel | None = None
    replicas: ReplicasTrafficModel | None = None

    @model_validator(mode="after")
    def _one_matching_block(self) -> TrafficModel:
        blocks = {
            "gatewayAPI": self.gateway_api,
            "istio": self.istio,
            "nginx": self.nginx,
            "replicas": self.replicas,
        }
        if blocks[self.provider] is None:
            raise ValueError(f"provider {self.provider} needs the {self.provider} block")
        if sum(block is not None for block in blocks.values()) > 1:
            raise ValueError("only the block of the chosen provider may be set")
        return self


class GuardrailModel(_Model):
    name: ItemName
    canary: Query
    baseline: Query | None = None
    max: float | None = None
    max_increase: float | None = Field(default=None, ge=0)
    samples: Query | None = None
    min_samples: float | None = Field(default=None, ge=0)
    severity: Severity = Severity.CRITICAL
    failure_limit: int = Field(default=defaults.FAILURE_LIMIT, ge=1, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> GuardrailModel:
        if self.max is None and self.max_increase is None:
            raise ValueError("a guardrail needs max, maxIncrease, or both")
        if self.max_increase is not None and self.baseline is None:
            raise ValueError("maxIncrease needs a baseline query")
        if self.min_samples is not None and self.samples is None:
            raise ValueError("minSamples needs a samples query")
        return self

    @field_validator("canary", "baseline", "samples")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return _check_query(value, allowed=("interval",))


class CanaryModel(_Model):
    traffic: TrafficModel
    steps: list[Annotated[int, Field(ge=1, le=100)]] = Field(min_length=1, max_length=20)
    interval: DurationText = defaults.INTERVAL.text
    cohort: OptionalObjectName | None = None
    guardrails: list[GuardrailModel] | None = Field(default=None, max_length=16)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in pairwise(steps)):
            raise ValueError("steps must be strictly increasing canary percentages")
        return steps

    _interval = field_validator("interval")(_check_duration)

    @field_validator("guardrails")
    @classmethod
    def _unique_guardrails(
        cls, guardrails: list[GuardrailModel] | None
    ) -> list[GuardrailModel] | None:
        _require_unique([g.name for g in guardrails or []], "guardrail")
        return guardrails


class MatrixRowModel(_Model):
    low: AnyMode | None = None
    high: AnyMode | None = None


class RedMatrixRowModel(_Model):
    low: NonAdvancingMode | None = None
    high: NonAdvancingMode | None = None


class MatrixModel(_Model):
    green: MatrixRowModel | None = None
    yellow: MatrixRowModel | None = None
    red: RedMatrixRowModel | None = None


class PolicyModel(_Model):
    matrix: MatrixModel | None = None
    guarded_passes: int = Field(default=defaults.GUARDED_PASSES, ge=1, le=10)


class CanaryGateSpecModel(_Model):
    prometheus: PrometheusModel | None = None
    risk: RiskModel = Field(default_factory=RiskModel)
    journeys: list[JourneyModel] = Field(min_length=1, max_length=16)
    health: HealthPolicyModel | None = None
    canary: CanaryModel
    policy: PolicyModel | None = None

    @field_validator("journeys")
    @classmethod
    def _unique_journeys(cls, journeys: list[JourneyModel]) -> list[JourneyModel]:
        _require_unique([j.name for j in journeys], "journey")
        return journeys


def _require_unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"duplicate {what} name {name!r}")
        seen.add(name)


class JourneyStatusModel(_Model):
    name: str
    health: Health
    burn_rates: dict[str, float | None] | None = None
    budget_remaining: float | None = None


class GuardrailStatusModel(_Model):
    name: str
    verdict: Verdict
    canary: float | None = None
    baseline: float | None = None
    samples: float | None = None
    consecutive_failures: int | None = Field(default=None, ge=0)


class ConditionModel(_Model):
    type: Annotated[str, StringConstraints(max_length=316)]
    status: Literal["True", "False", "Unknown"]
    observed_generation: int | None = Field(default=None, ge=0)
    last_transition_time: datetime
    reason: Annotated[str, StringConstraints(max_length=1024)]
    message: Annotated[str, StringConstraints(max_length=32768)]


class HistoryEntryModel(_Model):
    time: datetime
    action: Action
    health: Health | None = None
    risk: Risk | None = None
    mode: Mode | None = None
    weight_from: int = Field(ge=0, le=100)
    weight_to: int = Field(ge=0, le=100)
    reason: str | None = None


class CanaryGateStatusModel(_Model):
    phase: Phase | None = None
    health: Health | None = None
    risk: Risk | None = None
    mode: Mode | None = None
    action: Action | None = None
    weight: int | None = Field(default=None, ge=0, le=100)
    consecutive_passes: int | None = Field(default=None, ge=0)
    observed_generation: int | None = None
    last_evaluation_time: datetime | None = None
    message: str | None = None
    journeys: list[JourneyStatusModel] | None = None
    guardrails: list[GuardrailStatusModel] | None = None
    conditions: list[ConditionModel] | None = None
    history: list[HistoryEntryModel] | None = Field(default=None, max_length=50)


class CanaryGate(_Model):
    # Kubernetes fields outside the schema's concern (managedFields, uid...) are allowed in
    # metadata; the spec itself forbids unknown fields so typos are reported, not ignored.
    api_version: Literal["canarygate.io/v1alpha1"] = API_VERSION
    kind: Literal["CanaryGate"] = KIND
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: CanaryGateSpecModel
    status: CanaryGateStatusModel | None = None

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", "default"))
