"""Customer health of each journey and of the whole gate.

A journey is red as soon as the evidence shows it (even if another window is silent);
otherwise any missing measurement makes it unknown, so silence never looks green.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.observations import Missing, MissingKind, Observations, QueryKey, Role, lookup
from canarygate.core.slo import budget_remaining, burn_rate, error_ratio
from canarygate.core.specs import HealthPolicy, HealthTier, JourneySpec
from canarygate.core.vocabulary import HEALTH_ORDER, Health


@dataclass(frozen=True)
class JourneyAssessment:
    name: str
    health: Health
    critical: bool
    objective_percent: float
    weight: float
    burn_rates: tuple[tuple[Duration, float | None], ...]
    budget_remaining: float | None
    findings: tuple[str, ...]
    # False when some window had no usable data, even if red was established without it.
    complete: bool = True
    # Impossible numbers seen (good > total, negative counts), by window: treated as silence.
    invalid_evidence: tuple[str, ...] = ()

    def burn_rate_map(self) -> dict[str, float | None]:
        return {window.text: rate for window, rate in self.burn_rates}


def _tier_findings(
    tier: HealthTier, burns: dict[Duration, float | None], remaining: float | None
) -> list[str]:
    """Reasons this tier holds, judged on known values only; missing values never match."""
    found: list[str] = []
    for rule in tier.burn_rates:
        long_rate, short_rate = burns.get(rule.long), burns.get(rule.short)
        if (
            long_rate is not None
            and short_rate is not None
            and long_rate >= rule.threshold
            and short_rate >= rule.threshold
        ):
            found.append(
                f"burn rate {long_rate:.3g} over {rule.long} and {short_rate:.3g} over "
                f"{rule.short} (threshold {rule.threshold:g})"
            )
    if remaining is not None:
        at_most, below = tier.budget_remaining_at_most, tier.budget_remaining_below
        if at_most is not None and remaining <= at_most:
            found.append(f"budget remaining {remaining:.1%} (at or below {at_most:.0%})")
        elif below is not None and remaining < below:
            found.append(f"budget remaining {remaining:.1%} (below {below:.0%})")
    return found


def assess_journey(
    journey: JourneySpec,
    windows: Sequence[Duration],
    policy: HealthPolicy,
    observations: Observations,
) -> JourneyAssessment:
    burns: dict[Duration, float | None] = {}
    missing: dict[str, list[str]] = {}
    invalid: list[str] = []
    remaining: float | None = None
    burn_windows = set(policy.windows())
    for window in windows:
        ratio = error_ratio(
            lookup(observations, QueryKey(journey.name, Role.GOOD, window)),
            lookup(observations, QueryKey(journey.name, Role.TOTAL, window)),
            journey.error_budget,
        )
        if isinstance(ratio, Missing):
            missing.setdefault(ratio.describe(), []).append(window.text)
            if ratio.kind is MissingKind.INVALID:
                invalid.append(f"over {window}: {ratio.detail}")
        if window in burn_windows:
            rate = burn_rate(ratio, journey.error_budget)
            burns[window] = None if isinstance(rate, Missing) else rate
        if window == journey.window:
            left = budget_remaining(ratio, journey.error_budget)
            remaining = None if isinstance(left, Missing) else left

    red = _tier_findings(policy.red, burns, remaining)
    yellow = _tier_findings(policy.yellow, burns, remaining)
    if red:
        health, findings = Health.RED, red
    elif missing:
        health = Health.UNKNOWN
        findings = [
            f"no usable data over {', '.join(spans)} ({why})" for why, spans in missing.items()
        ]
    elif yellow:
        health, findings = Health.YELLOW, yellow
    else:
        health, findings = Health.GREEN, []
    return JourneyAssessment(
        name=journey.name,
        health=health,
        critical=journey.critical,
        objective_percent=journey.objective_percent,
        weight=journey.weight,
        burn_rates=tuple(sorted(burns.items())),
        budget_remaining=remaining,
        findings=tuple(findings),
        complete=not missing,
        invalid_evidence=tuple(invalid),
    )


def combine_health(assessments: Sequence[JourneyAssessment]) -> Health:
    """The worst journey decides, with silence ranked between evidence of red and the rest.

    A critical journey that is red makes the gate red whatever else is silent. Otherwise any
    journey with a silent window, critical or not, makes the gate unknown, even a
    non-critical one already red on partial data: capped at yellow it could otherwise let
    worse numbers unlock a step (yellow x low may advance) that silence would have held.
    A non-critical journey can make the gate at most yellow.
    """
    if not assessments:
        return Health.UNKNOWN
    if any(a.critical and a.health is Health.RED for a in assessments):
        return Health.RED
    if any(a.health is Health.UNKNOWN or not a.complete for a in assessments):
        return Health.UNKNOWN
    worst = max(
        HEALTH_ORDER.index(a.health) if a.critical else min(HEALTH_ORDER.index(a.health), 1)
        for a in assessments
    )
    return HEALTH_ORDER[worst]


def composite_score(assessments: Sequence[JourneyAssessment]) -> float | None:
    """Weighted mean of remaining budget (clamped to 0..1); None if any journey lacks it."""
    total_weight = sum(a.weight for a in assessments)
    if not assessments or total_weight <= 0:
        return None
    weighted = 0.0
    for a in assessments:
        if a.budget_remaining is None:
            return None
        weighted += a.weight * min(1.0, max(0.0, a.budget_remaining))
    return weighted / total_weight
