"""Pydantic mirror of the CanaryGate v1alpha1 CRD (`crds/canarygate.io_canarygates.yaml`).

The CRD is the source of truth; `tests/unit/api/test_crd_drift.py` fails when these models
and the CRD schema disagree. Validators below repeat the CRD's CEL rules so the CLI refuses
the same specs as the API server, with the same messages.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from canarygate.api.fields import (
    BUDGET_FLOOR,
    BURN_RATE_LIMIT,
    GUARDRAIL_LIMIT,
    INTEGRAL,
    LIFT_LIMIT,
    SEGMENT_LABELS_LIMIT,
    SEGMENTS_LIMIT,
    TEXT_ONLY,
    WEIGHT_LIMIT,
    BurnWindow,
    ComplianceWindow,
    Count,
    ExposureWindow,
    FailureLimit,
    Flag,
    FreezeCooldown,
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
    WebhookTimeout,
    check_namespace,
    check_object_name,
)
from canarygate.api.zones import check_time_zone
from canarygate.core import defaults
from canarygate.core.addresses import MAX_ADDRESS_LENGTH, parse_address
from canarygate.core.checks import CheckKind, CheckTiming, CheckVerdict
from canarygate.core.controls import ControlKind
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.templating import TEMPLATE_VARIABLES, check_template
from canarygate.core.vocabulary import (
    Action,
    Direction,
    Enforcement,
    Health,
    Lift,
    Mode,
    Phase,
    Risk,
    RiskLevel,
    RuleSeverity,
    Severity,
    Verdict,
    WindowEffect,
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
# Messages of the hotfix and check rules, the same in the CRD's CEL rules (test_crd_drift.py).
HOTFIX_INCIDENT_MESSAGE: Final = "changeType hotfix needs the incident it fixes (factors.incident)"
INCIDENT_HOTFIX_MESSAGE: Final = "incident is only for a hotfix (changeType hotfix)"
CHECK_KIND_MESSAGE: Final = "a check is either a prometheus query or a webhook"
CHECK_BOUNDS_MESSAGE: Final = "a prometheus check needs min, max, or both"
CHECK_ORDER_MESSAGE: Final = "min must not be above max"
# Messages of the combined health rules' CEL rules (spec.health.rules), the same in the CRD.
RULE_PRESET_MESSAGE: Final = (
    "a rule names a preset or states its own conditions (burnRates, budgetRemainingBelow), not both"
)
RULE_CONDITIONS_MESSAGE: Final = (
    "a rule without a preset needs a severity and at least one condition (burnRates or "
    "budgetRemainingBelow)"
)
RULE_JOURNEYS_MESSAGE: Final = "spec.health.rules[].journeys must name journeys of spec.journeys"
# Messages of the peak and freeze windows' CEL rules (spec.policy.windows), the same in the CRD.
WINDOW_DAYS_MESSAGE: Final = "a window names days (recurring) or dates (one-off), not both"
WINDOW_SPAN_MESSAGE: Final = (
    "start and end must differ (00:00 to 24:00 is the whole day; an end before the start runs "
    "past midnight)"
)
WINDOW_DATES_MESSAGE: Final = "dates must be calendar dates, YYYY-MM-DD"


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


ChangeType = Literal[
    "code", "config", "infra", "schema-migration", "feature-flag", "dependency", "hotfix"
]
IncidentRef = Annotated[str, Strict(), StringConstraints(min_length=1, max_length=256)]


class RiskFactorsModel(_Model):
    # Free text: organisations name tiers differently; only "critical" raises the risk.
    tier: ItemName | None = None
    change_type: ChangeType | None = None
    customer_neutral: Flag = False
    reversible: Flag = False
    incident: IncidentRef | None = None

    @model_validator(mode="after")
    def _hotfix_names_its_incident(self) -> RiskFactorsModel:
        if self.change_type == "hotfix" and self.incident is None:
            raise ValueError(HOTFIX_INCIDENT_MESSAGE)
        if self.incident is not None and self.change_type != "hotfix":
            raise ValueError(INCIDENT_HOTFIX_MESSAGE)
        return self


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


class BurnConditionModel(_Model):
    window: BurnWindow
    at_least: Annotated[Number, Gt(0), Le(BURN_RATE_LIMIT)]


HealthPreset = Literal["burn4x-budget25", "burn3x-budget50"]


class HealthRuleModel(_Model):
    """A rule needing all of its conditions at once (core.specs.CombinedRule), or a preset."""

    name: ItemName
    preset: HealthPreset | None = None
    severity: Annotated[RuleSeverity, TEXT_ONLY] | None = None
    burn_rates: list[BurnConditionModel] | None = Field(default=None, min_length=1, max_length=4)
    budget_remaining_below: BudgetBound | None = None
    journeys: list[ItemName] | None = Field(default=None, min_length=1, max_length=16)

    @model_validator(mode="after")
    def _conditions(self) -> HealthRuleModel:
        conditions = self.burn_rates is not None or self.budget_remaining_below is not None
        if self.preset is not None and conditions:
            raise ValueError(RULE_PRESET_MESSAGE)
        if self.preset is None and (self.severity is None or not conditions):
            raise ValueError(RULE_CONDITIONS_MESSAGE)
        return self

    @field_validator("journeys")
    @classmethod
    def _unique_journeys(cls, journeys: list[str] | None) -> list[str] | None:
        _require_unique(journeys or [], "journey")
        return journeys


class HealthPolicyModel(_Model):
    red: HealthTierModel | None = None
    yellow: HealthTierModel | None = None
    max_sample_age: SampleAge = defaults.MAX_SAMPLE_AGE.text
    rules: list[HealthRuleModel] | None = Field(default=None, max_length=16)

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[HealthRuleModel] | None) -> list[HealthRuleModel] | None:
        _require_unique([r.name for r in rules or []], "rule")
        return rules


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


CheckBound = Annotated[Number, Ge(-GUARDRAIL_LIMIT), Le(GUARDRAIL_LIMIT)]


class PrometheusCheckModel(_Model):
    query: Query
    min: CheckBound | None = None
    max: CheckBound | None = None

    @field_validator("query")
    @classmethod
    def _templates(cls, value: str) -> str | None:
        return _check_query(value, allowed=("interval",))

    @model_validator(mode="after")
    def _bounded(self) -> PrometheusCheckModel:
        if self.min is None and self.max is None:
            raise ValueError(CHECK_BOUNDS_MESSAGE)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(CHECK_ORDER_MESSAGE)
        return self


def _check_webhook_url(value: str) -> str:
    """An http(s) URL with a host and a port in range (core.addresses), a query allowed,
    no fragment: the CRD's rule, said the same way."""
    if "#" in value:
        raise ValueError("must not have a fragment (#...)")
    base, _, _ = value.partition("?")
    try:
        parse_address(base)
    except SpecError as error:
        raise ValueError(error.message) from None
    return value


class WebhookCheckModel(_Model):
    url: Annotated[str, StringConstraints(max_length=2048, pattern=r"^https?://[^\s]+$")]
    timeout: WebhookTimeout = "5s"

    _url = field_validator("url")(_check_webhook_url)


class CheckModel(_Model):
    name: ItemName
    when: Annotated[CheckTiming, TEXT_ONLY] = CheckTiming.BEFORE_EACH_STEP
    severity: Annotated[Severity, TEXT_ONLY] = Severity.MINOR
    failure_limit: FailureLimit = 1
    prometheus: PrometheusCheckModel | None = None
    webhook: WebhookCheckModel | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> CheckModel:
        if (self.prometheus is None) == (self.webhook is None):
            raise ValueError(CHECK_KIND_MESSAGE)
        return self


class ApprovalModel(_Model):
    promotion: Flag = False
    steps: Literal["none", "high-risk", "all"] = "none"


class ExposureModel(_Model):
    """Proof of exposure (core.exposure): the canary's requests and all requests over
    `{{window}}`, to compare the share the canary served with its route's weight."""

    canary: Query
    total: Query
    window: ExposureWindow | None = None
    tolerance: Annotated[Number, Ge(0.05), Le(0.9)] = defaults.EXPOSURE_TOLERANCE

    @field_validator("canary", "total")
    @classmethod
    def _templates(cls, value: str) -> str | None:
        return _check_query(value, allowed=TEMPLATE_VARIABLES, required=("window",))


class CanaryModel(_Model):
    traffic: TrafficModel
    steps: list[StepPercent] = Field(min_length=1, max_length=20)
    interval: Interval = defaults.INTERVAL.text
    cohort: OptionalObjectName | None = None
    revision: ObjectName | None = None
    approval: ApprovalModel | None = None
    guardrails: list[GuardrailModel] | None = Field(default=None, max_length=16)
    checks: list[CheckModel] | None = Field(default=None, max_length=16)
    success_metrics: list[SuccessMetricModel] | None = Field(default=None, max_length=8)
    exposure: ExposureModel | None = None

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

    @field_validator("checks")
    @classmethod
    def _unique_checks(cls, checks: list[CheckModel] | None) -> list[CheckModel] | None:
        _require_unique([c.name for c in checks or []], "check")
        return checks

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


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
# Wall-clock times of a window: minutes of a local day, `24:00` only as an end.
StartTime = Annotated[
    str, Strict(), StringConstraints(max_length=5, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
]
EndTime = Annotated[
    str,
    Strict(),
    StringConstraints(max_length=5, pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"),
]
LocalDate = Annotated[
    str,
    Strict(),
    StringConstraints(
        max_length=10, pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
    ),
]
TimeZoneName = Annotated[
    str,
    Strict(),
    StringConstraints(
        min_length=1, max_length=64, pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$"
    ),
    AfterValidator(check_time_zone),
]


def _calendar_dates(dates: list[str] | None) -> list[str] | None:
    for text in dates or []:
        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{WINDOW_DATES_MESSAGE}, got {text}") from None
    _require_unique(dates or [], "date")
    return dates


class TimeWindowModel(_Model):
    """A peak or freeze window (core.windows): local times in an IANA time zone, on weekdays
    or on one-off dates (every day when it names neither)."""

    name: ItemName
    effect: Annotated[WindowEffect, TEXT_ONLY]
    time_zone: TimeZoneName
    days: list[Weekday] | None = Field(default=None, min_length=1, max_length=7)
    dates: list[LocalDate] | None = Field(default=None, min_length=1, max_length=64)
    start: StartTime = "00:00"
    end: EndTime = "24:00"

    _dates = field_validator("dates")(_calendar_dates)

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[str] | None) -> list[str] | None:
        _require_unique(days or [], "day")
        return days

    @model_validator(mode="after")
    def _consistent(self) -> TimeWindowModel:
        if self.days is not None and self.dates is not None:
            raise ValueError(WINDOW_DAYS_MESSAGE)
        if self.start == self.end:
            raise ValueError(WINDOW_SPAN_MESSAGE)
        return self


class PolicyModel(_Model):
    matrix: MatrixModel | None = None
    guarded_passes: GuardedPasses = defaults.GUARDED_PASSES
    freeze_cooldown: FreezeCooldown = defaults.FREEZE_COOLDOWN.text
    windows: list[TimeWindowModel] | None = Field(default=None, max_length=16)

    @field_validator("windows")
    @classmethod
    def _unique_windows(cls, windows: list[TimeWindowModel] | None) -> list[TimeWindowModel] | None:
        _require_unique([w.name for w in windows or []], "window")
        return windows


class CanaryGateSpecModel(_Model):
    enforcement: Annotated[Enforcement, TEXT_ONLY] = Enforcement.ACT
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

    @field_validator("health")
    @classmethod
    def _rules_name_journeys(
        cls, health: HealthPolicyModel | None, info: ValidationInfo
    ) -> HealthPolicyModel | None:
        journeys = info.data.get("journeys")  # absent when the journeys were refused
        if health is None or journeys is None:
            return health
        names = {j.name for j in journeys}
        for rule in health.rules or []:
            if not set(rule.journeys or ()) <= names:
                raise ValueError(RULE_JOURNEYS_MESSAGE)
        return health


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
    rules_fired: list[Text] | None = Field(default=None, max_length=16)


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


class FreezeStatusModel(_StatusModel):
    red_since: Timestamp
    journeys: list[Text] | None = None
    clear_since: Timestamp | None = None
    cooldown_until: Timestamp | None = None
    clear: Text | None = None


class ControlStatusModel(_StatusModel):
    type: Annotated[ControlKind, TEXT_ONLY]
    revision: Text | None = None
    by: Text | None = None
    reason: Text | None = None
    requested_at: Text | None = None
    acknowledged_at: Timestamp
    applied: Flag
    message: Text | None = None


class CheckStatusModel(_StatusModel):
    name: Text
    kind: Annotated[CheckKind, TEXT_ONLY] | None = None
    verdict: Annotated[CheckVerdict, TEXT_ONLY]
    value: Number | None = None
    status_code: Annotated[int, Strict(), INTEGRAL] | None = None
    latency_seconds: Number | None = None
    step: Percent | None = None
    at: Timestamp | None = None
    consecutive_failures: Count | None = None
    message: Text | None = None


class SpecAuditStatusModel(_StatusModel):
    generation: Generation | None = None
    fields: dict[str, Text] | None = None


class ExposureStatusModel(_StatusModel):
    state: Literal["proven", "mismatch", "silent", "unknown", "not-judged"] | None = None
    route_weight: Percent | None = None
    served: Number | None = None
    canary: Number | None = None
    total: Number | None = None
    window: Text | None = None
    finding: Text | None = None


class WindowStatusModel(_StatusModel):
    name: Text
    effect: Annotated[WindowEffect, TEXT_ONLY]
    time_zone: Text | None = None
    local_time: Text | None = None
    until: Text | None = None
    detail: Text | None = None


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
    control: Annotated[ControlKind, TEXT_ONLY] | None = None
    by: Text | None = None
    enforcement: Annotated[Enforcement, TEXT_ONLY] | None = None
    generation: Generation | None = None
    changes: list[Text] | None = Field(default=None, max_length=20)


class IntentStatusModel(_StatusModel):
    action: Literal["advance", "promote", "rollback"]
    from_weight: Percent
    to_weight: Percent
    revision: Text | None = None
    decided_at: Timestamp
    control: Annotated[ControlKind, TEXT_ONLY] | None = None


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
    enforcement: Annotated[Enforcement, TEXT_ONLY] | None = None
    freeze: FreezeStatusModel | None = None
    controls: list[ControlStatusModel] | None = Field(default=None, max_length=8)
    checks: list[CheckStatusModel] | None = None
    score: Number | None = None
    reasons: list[Text] | None = Field(default=None, max_length=20)
    reason_codes: list[Text] | None = Field(default=None, max_length=20)
    intent: IntentStatusModel | None = None
    traffic: TrafficStatusModel | None = None
    journeys: list[JourneyStatusModel] | None = None
    guardrails: list[GuardrailStatusModel] | None = None
    success_metrics: list[SuccessMetricStatusModel] | None = None
    spec_audit: SpecAuditStatusModel | None = None
    exposure: ExposureStatusModel | None = None
    windows: list[WindowStatusModel] | None = Field(default=None, max_length=16)
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
