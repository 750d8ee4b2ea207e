"""Build the core's frozen GateSpec and GateState from a validated CanaryGate object."""

from __future__ import annotations

from datetime import date

from canarygate.api.memory import check_records_from_status, freeze_from_status
from canarygate.api.recorded import reading_queries
from canarygate.api.v1alpha1 import (
    CanaryGate,
    CanaryGateStatusModel,
    CheckModel,
    GuardrailModel,
    HealthPolicyModel,
    HealthRuleModel,
    HealthTierModel,
    JourneyModel,
    MatrixModel,
    PolicyModel,
    SuccessMetricModel,
    TimeWindowModel,
)
from canarygate.core import defaults
from canarygate.core.approval import ApprovalPolicy, ApprovalSteps
from canarygate.core.checks import CheckSpec, PrometheusCheck, WebhookCheck
from canarygate.core.durations import parse_duration
from canarygate.core.presets import preset_rule
from canarygate.core.specs import (
    DEFAULT_HEALTH_POLICY,
    BurnCondition,
    BurnRateRule,
    CanarySpec,
    CombinedRule,
    ExposureSpec,
    GateSpec,
    GuardrailSpec,
    HealthPolicy,
    HealthTier,
    JourneySegments,
    JourneySpec,
    MatrixPolicy,
    RiskFactors,
    RiskSpec,
    Segmentation,
    SliQueries,
    SuccessMetricSpec,
)
from canarygate.core.state import GateState
from canarygate.core.vocabulary import Health, Mode, Phase, Risk
from canarygate.core.windows import WEEKDAYS, TimeWindow


def to_gate_spec(gate: CanaryGate, *, read_recorded: bool = True) -> GateSpec:
    """The core's spec. A journey with `sli.recorded` reads the recorded ratio (what the gate
    evaluates); with `read_recorded=False` it keeps its own `sli.good` and `sli.total`, which
    define the SLI (what `canarygate rules` records)."""
    spec = gate.spec
    factors = spec.risk.factors
    canary = spec.canary
    return GateSpec(
        journeys=tuple(
            JourneySpec(
                name=j.name,
                objective_percent=j.objective,
                window=parse_duration(j.window),
                critical=j.critical,
                weight=j.weight,
                sli=(
                    reading_queries(j.sli)
                    if read_recorded
                    else SliQueries(good=j.sli.good, total=j.sli.total)
                ),
                segments=_journey_segments(j),
            )
            for j in spec.journeys
        ),
        canary=CanarySpec(
            steps=tuple(canary.steps),
            interval=parse_duration(canary.interval),
            cohort=canary.cohort,
            guardrails=tuple(_guardrail(g) for g in canary.guardrails or []),
            success_metrics=tuple(_success_metric(m) for m in canary.success_metrics or []),
            checks=tuple(_check(c) for c in canary.checks or []),
            approval=(
                ApprovalPolicy(canary.approval.promotion, ApprovalSteps(canary.approval.steps))
                if canary.approval is not None
                else ApprovalPolicy()
            ),
            exposure=(
                ExposureSpec(
                    canary=canary.exposure.canary,
                    total=canary.exposure.total,
                    window=(
                        parse_duration(canary.exposure.window) if canary.exposure.window else None
                    ),
                    tolerance=canary.exposure.tolerance,
                )
                if canary.exposure is not None
                else None
            ),
        ),
        risk=RiskSpec(
            level=spec.risk.level,
            factors=RiskFactors(
                tier=factors.tier,
                change_type=factors.change_type,
                customer_neutral=factors.customer_neutral,
                reversible=factors.reversible,
                incident=factors.incident,
            ),
        ),
        health=_health_policy(spec.health),
        policy=_matrix_policy(spec.policy),
        enforcement=spec.enforcement,
    )


def _matrix_policy(policy: PolicyModel | None) -> MatrixPolicy:
    if policy is None:
        return MatrixPolicy()
    return MatrixPolicy(
        cells=_matrix_cells(policy.matrix),
        guarded_passes=policy.guarded_passes,
        freeze_cooldown=parse_duration(policy.freeze_cooldown),
        windows=tuple(_time_window(w) for w in policy.windows or []),
    )


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _time_window(window: TimeWindowModel) -> TimeWindow:
    return TimeWindow(
        name=window.name,
        effect=window.effect,
        time_zone=window.time_zone,
        start=_minutes(window.start),
        end=_minutes(window.end),
        days=frozenset(WEEKDAYS.index(day) for day in window.days or []),
        dates=frozenset(date.fromisoformat(d) for d in window.dates or []),
    )


def _segmentation(labels: list[str] | None, cap: int | None) -> Segmentation | None:
    if labels is None:
        return None
    return Segmentation(tuple(labels), cap if cap is not None else defaults.MAX_SEGMENTS)


def _journey_segments(journey: JourneyModel) -> JourneySegments | None:
    by = _segmentation(journey.segment_by, journey.max_segments)
    if by is None:
        return None
    share = journey.min_segment_share
    return JourneySegments(
        by=by,
        min_share=share if share is not None else defaults.MIN_SEGMENT_SHARE,
        objectives=tuple(
            sorted((key, segment.objective) for key, segment in (journey.segments or {}).items())
        ),
    )


def _guardrail(g: GuardrailModel) -> GuardrailSpec:
    return GuardrailSpec(
        name=g.name,
        canary=g.canary,
        baseline=g.baseline,
        max=g.max,
        max_increase=g.max_increase,
        samples=g.samples,
        min_samples=g.min_samples,
        severity=g.severity,
        failure_limit=g.failure_limit,
        segments=_segmentation(g.segment_by, g.max_segments),
    )


def _check(c: CheckModel) -> CheckSpec:
    return CheckSpec(
        name=c.name,
        when=c.when,
        severity=c.severity,
        failure_limit=c.failure_limit,
        prometheus=(
            PrometheusCheck(c.prometheus.query, c.prometheus.min, c.prometheus.max)
            if c.prometheus is not None
            else None
        ),
        webhook=(
            WebhookCheck(c.webhook.url, parse_duration(c.webhook.timeout))
            if c.webhook is not None
            else None
        ),
    )


def _success_metric(m: SuccessMetricModel) -> SuccessMetricSpec:
    return SuccessMetricSpec(
        name=m.name,
        canary=m.canary,
        baseline=m.baseline,
        direction=m.direction,
        margin=m.margin,
        min_lift=m.min_lift,
        samples=m.samples,
        baseline_samples=m.baseline_samples,
        min_samples=m.min_samples,
    )


def _tier(override: HealthTierModel | None, default: HealthTier) -> HealthTier:
    """Field-by-field override: what the gate states replaces the default, the rest stays."""
    if override is None:
        return default
    burn_rates = default.burn_rates
    if override.burn_rates is not None:
        burn_rates = tuple(
            BurnRateRule(parse_duration(r.long), parse_duration(r.short), r.threshold)
            for r in override.burn_rates
        )
    fields = override.model_fields_set
    return HealthTier(
        burn_rates=burn_rates,
        budget_remaining_at_most=(
            override.budget_remaining_at_most
            if "budget_remaining_at_most" in fields
            else default.budget_remaining_at_most
        ),
        budget_remaining_below=(
            override.budget_remaining_below
            if "budget_remaining_below" in fields
            else default.budget_remaining_below
        ),
    )


def _health_policy(override: HealthPolicyModel | None) -> HealthPolicy:
    if override is None:
        return DEFAULT_HEALTH_POLICY
    return HealthPolicy(
        red=_tier(override.red, DEFAULT_HEALTH_POLICY.red),
        yellow=_tier(override.yellow, DEFAULT_HEALTH_POLICY.yellow),
        max_sample_age=parse_duration(override.max_sample_age),
        rules=tuple(_combined_rule(r) for r in override.rules or []),
    )


def _combined_rule(rule: HealthRuleModel) -> CombinedRule:
    journeys = tuple(rule.journeys or ())
    if rule.preset is not None:
        return preset_rule(rule.preset, name=rule.name, journeys=journeys, severity=rule.severity)
    assert rule.severity is not None  # the model refuses a rule without one
    return CombinedRule(
        name=rule.name,
        severity=rule.severity,
        burn_rates=tuple(
            BurnCondition(parse_duration(c.window), c.at_least) for c in rule.burn_rates or []
        ),
        budget_remaining_below=rule.budget_remaining_below,
        journeys=journeys,
    )


def _matrix_cells(matrix: MatrixModel | None) -> dict[tuple[Health, Risk], Mode]:
    cells: dict[tuple[Health, Risk], Mode] = {}
    if matrix is None:
        return cells
    rows = ((Health.GREEN, matrix.green), (Health.YELLOW, matrix.yellow), (Health.RED, matrix.red))
    for health, row in rows:
        if row is None:
            continue
        for risk, mode in ((Risk.LOW, row.low), (Risk.HIGH, row.high)):
            if mode is not None:
                cells[(health, risk)] = Mode(mode)
    return cells


def to_gate_state(status: CanaryGateStatusModel | None, *, weight: int | None = None) -> GateState:
    """State remembered in the status; an explicit `weight` that differs starts the count afresh."""
    remembered = GateState()
    if status is not None:
        remembered = GateState(
            weight=status.weight or 0,
            phase=status.phase or Phase.PENDING,
            consecutive_passes=status.consecutive_passes or 0,
            guardrail_failures={
                g.name: g.consecutive_failures or 0 for g in status.guardrails or []
            },
            freeze=freeze_from_status(
                status.freeze.model_dump(by_alias=True, mode="json") if status.freeze else None
            ),
            checks=check_records_from_status(
                [c.model_dump(by_alias=True, mode="json") for c in status.checks or []]
            ),
        )
    return remembered if weight is None else remembered.at_weight(weight)
