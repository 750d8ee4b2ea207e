"""Pydantic mirror of the CanaryGate v1alpha1 CRD (`crds/canarygate.io_canarygates.yaml`).

The CRD is the source of truth; `tests/unit/api/test_crd_drift.py` fails when these models
and the CRD schema disagree. Validators below repeat the CRD's CEL rules so the CLI refuses
the same specs as the API server, with the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from canarygate.api.fields import (
    BUDGET_FLOOR,
    BURN_RATE_LIMIT,
    GUARDRAIL_LIMIT,
    LIFT_LIMIT,
    SEGMENT_LABELS_LIMIT,
    SEGMENTS_LIMIT,
    TEXT_ONLY,
    WEIGHT_LIMIT,
    BurnWindow,
    ComplianceWindow,
    Count,
    FailureLimit,
    Flag,
    Generation,
    GuardedPasses,
    Interval,
    ItemName,
    LabelName,
    Number,
    ObjectName,
    OptionalObjectName,
    Percent,
    Query,
    ReplicaCount,
    SampleAge,
    SegmentCap,
    StepPercent,
    Text,
    Timeout,
    Timestamp,
    check_namespace,
    check_object_name,
)
from canarygate.core import defaults
from canarygate.core.addresses import MAX_ADDRESS_LENGTH, parse_address
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.templating import TEMPLATE_VARIABLES, check_template
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

API_GROUP: Final = "canarygate.io"
API_VERSION: Final = "canarygate.io/v1alpha1"
KIND: Final = "CanaryGate"
PLURAL: Final = "canarygates"

AnyMode = Literal["proceed", "guarded", "neutral-only", "delay", "freeze", "hold"]
NonAdvancingMode = Literal["delay", "freeze", "hold"]
FIRST_STEP_MESSAGE: Final = (
    "the first step must be below 100 when guardrails are set: a canary's guardrails are "
    "measured on a smaller step before it takes all traffic"
)
EXTERNAL_APPROVAL_MESSAGE: Final = (
    "approval is for gates canarygate moves: with provider external, the tool moving the "
    "traffic holds its own approvals"
)
# Messages of the segment rules, the same in the CRD's CEL rules (test_crd_drift.py).
JOURNEY_SEGMENTS_MESSAGE: Final = "minSegmentShare, maxSegments and segments need segmentBy"
JOURNEY_RECORDED_MESSAGE: Final = (
    "sli.recorded cannot be used with segmentBy: recorded ratios of segments cannot be added "
    "up into the journey's"
)
JOURNEY_LABELS_MESSAGE: Final = (
    "sli.good and sli.total must name every segmentBy label, as in sum by (region) (...)"
)
GUARDRAIL_SEGMENTS_MESSAGE: Final = "maxSegments needs segmentBy"
GUARDRAIL_LABELS_MESSAGE: Final = (
    "the guardrail's queries must name every segmentBy label, as in sum by (tier) (...)"
)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        use_enum_values=False,
    )


def _check_query(
    value: str | None, *, allowed: Iterable[str], required: Iterable[str] = ()
) -> str | None:
    if value is not None:
        try:
            check_template(value, field="query", allowed=allowed, required=required)
        except SpecError as error:
            raise ValueError(error.message) from None
    return value


def names_label(query: str, label: str) -> bool:
    """The query names `label` as a word (`sum by (region)`): a guard against a segmented
    query that forgot its `by (...)` and answers one series for all segments. The CRD's CEL
    rule matches the same `\\b<label>\\b`."""
    return re.search(rf"\b{re.escape(label)}\b", query) is not None


def _unique_labels(labels: list[str] | None) -> list[str] | None:
    _require_unique(labels or [], "segmentBy label")
    return labels


def _check_address(value: str) -> str:
    """Deeper than the CRD pattern: a host, a port in range, no query (core.addresses)."""
    try:
        parse_address(value)
    except SpecError as error:
        raise ValueError(error.message) from None
    return value


class PrometheusModel(_Model):
    address: Annotated[
        str, StringConstraints(max_length=MAX_ADDRESS_LENGTH, pattern=r"^https?://[^\s]+$")
    ]
    timeout: Timeout = defaults.QUERY_TIMEOUT.text

    _address = field_validator("address")(_check_address)


ChangeType = Literal["code", "config", "infra", "schema-migration", "feature-flag", "dependency"]


class RiskFactorsModel(_Model):
    # Free text: organisations name tiers differently; only "critical" raises the risk.
    tier: ItemName | None = None
    change_type: ChangeType | None = None
    customer_neutral: Flag = False
    reversible: Flag = False


class RiskModel(_Model):
    level: Annotated[RiskLevel, TEXT_ONLY] = RiskLevel.AUTO
    factors: RiskFactorsModel = Field(default_factory=RiskFactorsModel)


class SliModel(_Model):
    good: Query
    total: Query
    # A recorded error ratio per window (Sloth's rules, or `canarygate rules`): read instead
    # of good and total, which still define what is recorded.
    recorded: Query | None = None

    @field_validator("good", "total", "recorded")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return _check_query(value, allowed=TEMPLATE_VARIABLES, required=("window",))


Objective = Annotated[Number, Gt(0), Lt(100)]
SegmentLabels = Annotated[list[LabelName], Field(min_length=1, max_length=SEGMENT_LABELS_LIMIT)]


class SegmentObjectiveModel(_Model):
    objective: Objective


class JourneyModel(_Model):
    name: ItemName
    objective: Objective
    window: ComplianceWindow = defaults.COMPLIANCE_WINDOW.text
    critical: Flag = True
    weight: Annotated[Number, Ge(0), Le(WEIGHT_LIMIT)] = defaults.JOURNEY_WEIGHT
    sli: SliModel
    # Judged segment by segment too; no CRD defaults for the rest, so that journeys without
    # segments store nothing about them (core.defaults holds the defaults).
    segment_by: SegmentLabels | None = None
    min_segment_share: Annotated[Number, Ge(0), Le(1)] | None = None
    max_segments: SegmentCap | None = None
    segments: dict[str, SegmentObjectiveModel] | None = Field(
        default=None, max_length=SEGMENTS_LIMIT
    )

    _labels = field_validator("segment_by")(_unique_labels)

    @model_validator(mode="after")
    def _segments(self) -> JourneyModel:
        if self.segment_by is None:
            if (self.min_segment_share, self.max_segments, self.segments) != (None, None, None):
                raise ValueError(JOURNEY_SEGMENTS_MESSAGE)
            return self
        queries = (self.sli.good, self.sli.total)
        if not all(names_label(q, label) for q in queries for label in self.segment_by):
            raise ValueError(JOURNEY_LABELS_MESSAGE)
        if self.sli.recorded is not None:
            raise ValueError(JOURNEY_RECORDED_MESSAGE)
        return self


class BurnRateRuleModel(_Model):
    long: BurnWindow
    short: BurnWindow
    threshold: Annotated[Number, Gt(0), Le(BURN_RATE_LIMIT)]

    @model_validator(mode="after")
    def _windows(self) -> BurnRateRuleModel:
        if parse_duration(self.short) >= parse_duration(self.long):
            raise ValueError(f"short window {self.short} must be shorter than long {self.long}")
        return self


BudgetBound = Annotated[Number, Ge(BUDGET_FLOOR), Le(1)]


class HealthTierModel(_Model):
    burn_rates: list[BurnRateRuleModel] | None = Field(default=None, max_length=8)
    budget_remaining_at_most: BudgetBound | None = None
    budget_remaining_below: BudgetBound | None = None


class HealthPolicyModel(_Model):
    red: HealthTierModel | None = None
    yellow: HealthTierModel | None = None
    max_sample_age: SampleAge = defaults.MAX_SAMPLE_AGE.text


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
    total_replicas: ReplicaCount


# `external`: a judge-only gate. Another tool moves the traffic and asks the verdict API;
# canarygate never writes routes for it, so it takes no routing block.
Provider = Literal["gatewayAPI", "istio", "nginx", "replicas", "external"]


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
        given = sum(block is not None for block in blocks.values())
        if self.provider == "external":
            if given:
                raise ValueError("provider external takes no routing block")
            return self
        if blocks[self.provider] is None:
            raise ValueError(f"provider {self.provider} needs the {self.provider} block")
        if given > 1:
            raise ValueError("only the block of the chosen provider may be set")
        return self


GuardrailValue = Annotated[Number, Ge(0), Le(GUARDRAIL_LIMIT)]


class GuardrailModel(_Model):
    name: ItemName
    canary: Query
    baseline: Query | None = None
    max: Annotated[Number, Ge(-GUARDRAIL_LIMIT), Le(GUARDRAIL_LIMIT)] | None = None
    max_increase: GuardrailValue | None = None
    samples: Query | None = None
    min_samples: GuardrailValue | None = None
    severity: Annotated[Severity, TEXT_ONLY] = Severity.CRITICAL
    failure_limit: FailureLimit = defaults.FAILURE_LIMIT
    segment_by: SegmentLabels | None = None
    max_segments: SegmentCap | None = None

    _labels = field_validator("segment_by")(_unique_labels)

    @model_validator(mode="after")
    def _consistent(self) -> GuardrailModel:
        if self.max is None and self.max_increase is None:
            raise ValueError("a guardrail needs max, maxIncrease, or both")
        if self.max_increase is not None and self.baseline is None:
            raise ValueError("maxIncrease needs a baseline query")
        if self.min_samples is not None and self.samples is None:
            raise ValueError("minSamples needs a samples query")
        if self.max_segments is not None and self.segment_by is None:
            raise ValueError(GUARDRAIL_SEGMENTS_MESSAGE)
        if self.segment_by is not None:
            queries = [q for q in (self.canary, self.baseline, self.samples) if q is not None]
            if not all(names_label(q, label) for q in queries for label in self.segment_by):
                raise ValueError(GUARDRAIL_LABELS_MESSAGE)
        return self

    @field_validator("canary", "baseline", "samples")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return _check_query(value, allowed=("interval",))


class SuccessMetricModel(_Model):
    name: ItemName
    canary: Query
    baseline: Query
    direction: Annotated[Direction, TEXT_ONLY]
    margin: Annotated[Number, Ge(0), Le(1)] = defaults.SUCCESS_MARGIN
    min_lift: Annotated[Number, Ge(0), Le(LIFT_LIMIT)] | None = None
    samples: Query | None = None
    baseline_samples: Query | None = None
    min_samples: GuardrailValue | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SuccessMetricModel:
        if self.min_samples is not None and self.samples is None:
            raise ValueError("minSamples needs a samples query")
        if self.baseline_samples is not None and self.samples is None:
            raise ValueError("baselineSamples needs a samples query")
        return self

    @field_validator("canary", "baseline", "samples", "baseline_samples")
    @classmethod
    def _templates(cls, value: str | None) -> str | None:
        return _check_query(value, allowed=("interval",))


class ApprovalModel(_Model):
    promotion: Flag = False
    steps: Literal["none", "high-risk", "all"] = "none"


class CanaryModel(_Model):
    traffic: TrafficModel
    steps: list[StepPercent] = Field(min_length=1, max_length=20)
    interval: Interval = defaults.INTERVAL.text
    cohort: OptionalObjectName | None = None
    revision: ObjectName | None = None
    approval: ApprovalModel | None = None
    guardrails: list[GuardrailModel] | None = Field(default=None, max_length=16)
    success_metrics: list[SuccessMetricModel] | None = Field(default=None, max_length=8)

    @field_validator("steps")
    @classmethod
    def _increasing(cls, steps: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in pairwise(steps)):
            raise ValueError("steps must be strictly increasing canary percentages")
        return steps

    @field_validator("guardrails")
    @classmethod
    def _unique_guardrails(
        cls, guardrails: list[GuardrailModel] | None
    ) -> list[GuardrailModel] | None:
        _require_unique([g.name for g in guardrails or []], "guardrail")
        return guardrails

    @field_validator("success_metrics")
    @classmethod
    def _unique_success_metrics(
        cls, metrics: list[SuccessMetricModel] | None
    ) -> list[SuccessMetricModel] | None:
        _require_unique([m.name for m in metrics or []], "success metric")
        return metrics

    @model_validator(mode="after")
    def _approval_needs_moves(self) -> CanaryModel:
        if self.traffic.provider == "external" and self.approval is not None:
            raise ValueError(EXTERNAL_APPROVAL_MESSAGE)
        return self

    @model_validator(mode="after")
    def _guardrails_measured_before_full_traffic(self) -> CanaryModel:
        # At weight 0 a canary cannot be measured, so its first step is taken on health and
        # risk alone: a first step of 100 would promote with every guardrail unmeasured.
        if self.guardrails and self.steps[0] >= 100:
            raise ValueError(FIRST_STEP_MESSAGE)
        return self


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
    guarded_passes: GuardedPasses = defaults.GUARDED_PASSES


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


Verdicts = Annotated[Verdict, TEXT_ONLY]
Healths = Annotated[Health, TEXT_ONLY]
Risks = Annotated[Risk, TEXT_ONLY]
Modes = Annotated[Mode, TEXT_ONLY]
Actions = Annotated[Action, TEXT_ONLY]


class _StatusModel(_Model):
    """The status is the operator's, not the user's: a field this version does not know (a
    newer operator's) is ignored, as the API server prunes it rather than refusing it. The
    fields it knows are as strict as the spec's."""

    model_config = ConfigDict(extra="ignore")


STATUS_SEGMENTS_LIMIT: Final = 10


class SegmentStatusModel(_StatusModel):
    segment: dict[str, Text]
    health: Healths
    objective: Number | None = None
    share: Number | None = None
    burn_rates: dict[str, Number | None] | None = None
    budget_remaining: Number | None = None


class JourneyStatusModel(_StatusModel):
    name: Text
    health: Healths
    burn_rates: dict[str, Number | None] | None = None
    budget_remaining: Number | None = None
    overall: Healths | None = None
    segment_by: list[Text] | None = None
    segments: list[SegmentStatusModel] | None = Field(
        default=None, max_length=STATUS_SEGMENTS_LIMIT
    )
    segments_judged: Count | None = None
    segments_ignored: Count | None = None


class GuardrailSegmentStatusModel(_StatusModel):
    segment: dict[str, Text]
    verdict: Verdicts
    canary: Number | None = None
    baseline: Number | None = None
    samples: Number | None = None


class GuardrailStatusModel(_StatusModel):
    name: Text
    verdict: Verdicts
    canary: Number | None = None
    baseline: Number | None = None
    samples: Number | None = None
    consecutive_failures: Count | None = None
    segments: list[GuardrailSegmentStatusModel] | None = Field(
        default=None, max_length=STATUS_SEGMENTS_LIMIT
    )
    segments_ignored: Count | None = None


class SuccessMetricStatusModel(_StatusModel):
    name: Text
    verdict: Annotated[Lift, TEXT_ONLY]
    lift: Number | None = None
    canary: Number | None = None
    baseline: Number | None = None
    samples: Number | None = None
    baseline_samples: Number | None = None


class ConditionModel(_StatusModel):
    type: Annotated[Text, StringConstraints(max_length=316)]
    status: Literal["True", "False", "Unknown"]
    observed_generation: Count | None = None
    last_transition_time: Timestamp
    reason: Annotated[Text, StringConstraints(max_length=1024)]
    message: Annotated[Text, StringConstraints(max_length=32768)]


class HistoryEntryModel(_StatusModel):
    time: Timestamp
    action: Actions
    health: Healths | None = None
    risk: Risks | None = None
    mode: Modes | None = None
    weight_from: Percent
    weight_to: Percent
    reason: Text | None = None


class IntentStatusModel(_StatusModel):
    action: Literal["advance", "promote", "rollback"]
    from_weight: Percent
    to_weight: Percent
    revision: Text | None = None
    decided_at: Timestamp


class TrafficStatusModel(_StatusModel):
    provider: Text | None = None
    original: dict[str, Any] | None = None
    check: Literal["verified", "mismatch", "cannot-tell"] | None = None
    live_weight: Number | None = None


class ApprovalStatusModel(_StatusModel):
    key: Text
    action: Literal["advance", "promote"] | None = None
    to_weight: Percent | None = None
    waiting_since: Timestamp
    how: Text | None = None


Judgements = Literal["pass", "fail", "inconclusive", "error"]


class VerdictCallerStatusModel(_StatusModel):
    name: Annotated[Text, StringConstraints(max_length=512)]
    via: Annotated[Text, StringConstraints(max_length=64)] | None = None
    verdict: Judgements
    weight: Percent | None = None
    since: Timestamp


class VerdictStatusModel(_StatusModel):
    verdict: Judgements
    callers: list[VerdictCallerStatusModel] | None = Field(default=None, max_length=10)


class CanaryGateStatusModel(_StatusModel):
    phase: Annotated[Phase, TEXT_ONLY] | None = None
    health: Healths | None = None
    risk: Risks | None = None
    mode: Modes | None = None
    action: Actions | None = None
    weight: Percent | None = None
    approval: ApprovalStatusModel | None = None
    consecutive_passes: Count | None = None
    observed_generation: Generation | None = None
    last_evaluation_time: Timestamp | None = None
    message: Text | None = None
    revision: Text | None = None
    score: Number | None = None
    reasons: list[Text] | None = Field(default=None, max_length=20)
    reason_codes: list[Text] | None = Field(default=None, max_length=20)
    intent: IntentStatusModel | None = None
    traffic: TrafficStatusModel | None = None
    journeys: list[JourneyStatusModel] | None = None
    guardrails: list[GuardrailStatusModel] | None = None
    success_metrics: list[SuccessMetricStatusModel] | None = None
    conditions: list[ConditionModel] | None = None
    verdict: VerdictStatusModel | None = None
    history: list[HistoryEntryModel] | None = Field(default=None, max_length=50)


class ObjectMetaModel(BaseModel):
    """The part of Kubernetes' ObjectMeta that canarygate reads, checked as the API server
    checks it; everything else (labels, uid, managedFields...) is kept as it came."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: Text
    namespace: Text | None = None

    _name = field_validator("name")(check_object_name)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        return None if value is None else check_namespace(value)


class CanaryGate(_Model):
    # Kubernetes fields outside the schema's concern (managedFields, uid...) are allowed in
    # metadata; the spec itself forbids unknown fields so typos are reported, not ignored.
    api_version: Literal["canarygate.io/v1alpha1"] = API_VERSION
    kind: Literal["CanaryGate"] = KIND
    metadata: ObjectMetaModel
    spec: CanaryGateSpecModel
    status: CanaryGateStatusModel | None = None

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace or "default"
