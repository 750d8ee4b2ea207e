"""Frozen, validated description of one gate, as the core sees it.

These mirror the CanaryGate CRD in plain dataclasses so the core stays free of pydantic;
`canarygate.api` builds them from the Kubernetes object.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from canarygate.core import defaults
from canarygate.core.approval import ApprovalPolicy
from canarygate.core.checks import CheckSpec
from canarygate.core.durations import Duration
from canarygate.core.observations import Segment
from canarygate.core.vocabulary import (
    Direction,
    Enforcement,
    Health,
    Mode,
    Risk,
    RiskLevel,
    RuleSeverity,
    Severity,
)
from canarygate.core.windows import TimeWindow


@dataclass(frozen=True)
class SliQueries:
    """PromQL for good and total events; both use `{{window}}`."""

    good: str
    total: str


@dataclass(frozen=True)
class Segmentation:
    """Queries that answer one series per segment (`sum by (region) (...)`), told apart by the
    values of these labels; an answer with more than `max_segments` segments is refused."""

    labels: tuple[str, ...]
    max_segments: int = defaults.MAX_SEGMENTS


def segment_key(segment: Segment) -> str:
    """How a gate names a segment in `segments:`: its label values joined by `/`."""
    return "/".join(segment)


@dataclass(frozen=True)
class JourneySegments:
    """A journey judged segment by segment as well as over all of its traffic."""

    by: Segmentation
    min_share: float = defaults.MIN_SEGMENT_SHARE
    # Objectives (percent) of named segments, by `segment_key`; the others keep the journey's.
    objectives: tuple[tuple[str, float], ...] = ()

    def objective_for(self, segment: Segment, journey_objective: float) -> float:
        return dict(self.objectives).get(segment_key(segment), journey_objective)


@dataclass(frozen=True)
class JourneySpec:
    name: str
    objective_percent: float
    sli: SliQueries
    window: Duration = defaults.COMPLIANCE_WINDOW
    critical: bool = True
    weight: float = defaults.JOURNEY_WEIGHT
    segments: JourneySegments | None = None

    @property
    def error_budget(self) -> float:
        """Allowed error ratio, e.g. 0.001 for a 99.9 % objective."""
        return 1.0 - self.objective_percent / 100.0


@dataclass(frozen=True)
class BurnRateRule:
    """Both windows must burn at or above `threshold` for the rule to hold (SRE workbook)."""

    long: Duration
    short: Duration
    threshold: float

    @property
    def label(self) -> str:
        return f"burn >= {self.threshold:g} over {self.long} and {self.short}"


@dataclass(frozen=True)
class HealthTier:
    """One level of the health policy: any burn rule or the budget bound puts a journey here."""

    burn_rates: tuple[BurnRateRule, ...] = ()
    budget_remaining_at_most: float | None = None
    budget_remaining_below: float | None = None


@dataclass(frozen=True)
class BurnCondition:
    """One condition of a combined rule: the burn rate over `window` is at least `at_least`."""

    window: Duration
    at_least: float


@dataclass(frozen=True)
class CombinedRule:
    """A health rule that fires only when all of its conditions hold at once (burn rate over
    each window at or above its bound AND remaining budget below a bound), as paging rules
    are written: "burn >= 4 and less than 25 % of the budget left". A page rule makes a
    journey red, a ticket rule yellow. A condition whose value is unknown never holds."""

    name: str
    severity: RuleSeverity
    burn_rates: tuple[BurnCondition, ...] = ()
    budget_remaining_below: float | None = None
    # The journeys it judges, by name; empty: every journey.
    journeys: tuple[str, ...] = ()
    # The named preset it was taken from (core.presets), if any.
    preset: str | None = None

    @property
    def level(self) -> Health:
        return Health.RED if self.severity is RuleSeverity.PAGE else Health.YELLOW

    def applies_to(self, journey: str) -> bool:
        return not self.journeys or journey in self.journeys

    def describe(self) -> str:
        """`burn >= 4 over 1h and 5m and budget remaining < 25%`: its conditions in words."""
        parts = [f"burn >= {c.at_least:g} over {c.window}" for c in self.burn_rates]
        if self.budget_remaining_below is not None:
            parts.append(f"budget remaining < {self.budget_remaining_below:.0%}")
        return " and ".join(parts)


@dataclass(frozen=True)
class HealthPolicy:
    red: HealthTier
    yellow: HealthTier
    # Data older than this counts as silence (core.freshness).
    max_sample_age: Duration = defaults.MAX_SAMPLE_AGE
    # Rules needing several conditions at once, alongside the tiers' single conditions.
    rules: tuple[CombinedRule, ...] = ()

    def windows(self) -> tuple[Duration, ...]:
        """Every window a burn rule reads, shortest first."""
        return _policy_windows(self.red, self.yellow, self.rules)

    def for_journey(self, journey: str) -> HealthPolicy:
        """The policy as it judges one journey: only the combined rules that apply to it."""
        rules = tuple(rule for rule in self.rules if rule.applies_to(journey))
        return self if rules == self.rules else replace(self, rules=rules)


@functools.lru_cache(maxsize=1024)
def _policy_windows(
    red: HealthTier, yellow: HealthTier, rules: tuple[CombinedRule, ...]
) -> tuple[Duration, ...]:
    """The windows of a policy's rules, computed once per distinct policy (every evaluation of
    every journey asks for them)."""
    found = {
        window
        for tier in (red, yellow)
        for rule in tier.burn_rates
        for window in (rule.short, rule.long)
    }
    found.update(c.window for rule in rules for c in rule.burn_rates)
    return tuple(sorted(found))


def _d(minutes: int) -> Duration:
    return Duration(minutes * 60_000)


DEFAULT_HEALTH_POLICY = HealthPolicy(
    red=HealthTier(
        burn_rates=(
            BurnRateRule(long=_d(60), short=_d(5), threshold=14.4),
            BurnRateRule(long=_d(6 * 60), short=_d(30), threshold=6.0),
        ),
        budget_remaining_at_most=0.0,
    ),
    yellow=HealthTier(
        burn_rates=(
            BurnRateRule(long=_d(24 * 60), short=_d(2 * 60), threshold=3.0),
            BurnRateRule(long=_d(3 * 24 * 60), short=_d(6 * 60), threshold=1.0),
        ),
        budget_remaining_below=0.25,
    ),
)


@dataclass(frozen=True)
class RiskFactors:
    tier: str | None = None
    change_type: str | None = None
    customer_neutral: bool = False
    reversible: bool = False
    # The incident a hotfix fixes (changeType hotfix): shown in reasons and status.
    incident: str | None = None


@dataclass(frozen=True)
class RiskSpec:
    level: RiskLevel = RiskLevel.AUTO
    factors: RiskFactors = RiskFactors()


@dataclass(frozen=True)
class GuardrailSpec:
    name: str
    canary: str
    baseline: str | None = None
    max: float | None = None
    max_increase: float | None = None
    samples: str | None = None
    min_samples: float | None = None
    severity: Severity = Severity.CRITICAL
    failure_limit: int = defaults.FAILURE_LIMIT
    # Canary against baseline segment by segment: fails when any segment with enough samples does.
    segments: Segmentation | None = None


@dataclass(frozen=True)
class SuccessMetricSpec:
    """What the release is for (conversion, activation...), compared canary against baseline.
    Apart from guardrails: it never rolls back and never overrides them or the matrix; it only
    decides whether the last step promotes."""

    name: str
    canary: str
    baseline: str
    direction: Direction
    # Relative: a canary at most this much worse than the baseline is flat, not worse.
    margin: float = defaults.SUCCESS_MARGIN
    # Relative: when set, promotion needs at least this lift.
    min_lift: float | None = None
    samples: str | None = None
    baseline_samples: str | None = None
    min_samples: float | None = None


@dataclass(frozen=True)
class ExposureSpec:
    """How to measure the share of requests the canary actually served (core.exposure): its
    requests and all requests, both over `{{window}}` (default: the gate's interval)."""

    canary: str
    total: str
    window: Duration | None = None
    tolerance: float = defaults.EXPOSURE_TOLERANCE


@dataclass(frozen=True)
class CanarySpec:
    steps: tuple[int, ...]
    interval: Duration = defaults.INTERVAL
    guardrails: tuple[GuardrailSpec, ...] = ()
    cohort: str | None = None
    success_metrics: tuple[SuccessMetricSpec, ...] = ()
    approval: ApprovalPolicy = field(default_factory=ApprovalPolicy)
    # Checks that block a step (core.checks).
    checks: tuple[CheckSpec, ...] = ()
    exposure: ExposureSpec | None = None

    @property
    def exposure_window(self) -> Duration:
        """The window the exposure queries measure (their `{{window}}`)."""
        if self.exposure is not None and self.exposure.window is not None:
            return self.exposure.window
        return self.interval

    @property
    def last_step(self) -> int:
        return self.steps[-1]

    def next_step(self, weight: int) -> int | None:
        """The first step above `weight`, or None when the last step is already reached."""
        return next((step for step in self.steps if step > weight), None)


@dataclass(frozen=True)
class MatrixPolicy:
    """Overrides of the health x risk matrix; cells not listed keep their default mode."""

    cells: Mapping[tuple[Health, Risk], Mode] = field(default_factory=dict)
    guarded_passes: int = defaults.GUARDED_PASSES
    # Health must stay out of red this long before a freeze lifts (core.incidents).
    freeze_cooldown: Duration = defaults.FREEZE_COOLDOWN
    # Peak and freeze windows (core.windows): while one applies, steps freeze or risk is high.
    windows: tuple[TimeWindow, ...] = ()


@dataclass(frozen=True)
class GateSpec:
    journeys: tuple[JourneySpec, ...]
    canary: CanarySpec
    risk: RiskSpec = RiskSpec()
    health: HealthPolicy = DEFAULT_HEALTH_POLICY
    policy: MatrixPolicy = MatrixPolicy()
    # `observe`: evaluate, record and notify as usual, never move traffic.
    enforcement: Enforcement = Enforcement.ACT
