"""From burn rates and remaining budget to a health level and the findings behind it: the
rule shared by a journey and by each of its segments.

Red as soon as the evidence shows it (even if another window is silent); otherwise any
missing measurement makes it unknown, so silence never looks green; then yellow; then green.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.specs import HealthPolicy, HealthTier
from canarygate.core.vocabulary import Health


@dataclass(frozen=True)
class Finding:
    """Why a level holds: `summary` fits in parentheses (`burn 21 over 1h`), `detail` says all."""

    summary: str
    detail: str


def tier_findings(
    tier: HealthTier, burns: Mapping[Duration, float | None], remaining: float | None
) -> list[Finding]:
    """Reasons this tier holds, judged on known values only; missing values never match."""
    found: list[Finding] = []
    for rule in tier.burn_rates:
        long_rate, short_rate = burns.get(rule.long), burns.get(rule.short)
        if (
            long_rate is not None
            and short_rate is not None
            and long_rate >= rule.threshold
            and short_rate >= rule.threshold
        ):
            found.append(
                Finding(
                    f"burn {long_rate:.3g} over {rule.long}",
                    f"burn rate {long_rate:.3g} over {rule.long} and {short_rate:.3g} over "
                    f"{rule.short} (threshold {rule.threshold:g})",
                )
            )
    if remaining is not None:
        at_most, below = tier.budget_remaining_at_most, tier.budget_remaining_below
        summary = f"budget remaining {remaining:.1%}"
        if at_most is not None and remaining <= at_most:
            found.append(Finding(summary, f"{summary} (at or below {at_most:.0%})"))
        elif below is not None and remaining < below:
            found.append(Finding(summary, f"{summary} (below {below:.0%})"))
    return found


def classify(
    policy: HealthPolicy,
    burns: Mapping[Duration, float | None],
    remaining: float | None,
    missing: Mapping[str, Sequence[str]],
) -> tuple[Health, list[Finding]]:
    """The level and its findings. `missing` maps why a window had no usable value to the
    windows it concerns (`"no-data: ..." -> ["5m", "30m"]`)."""
    red = tier_findings(policy.red, burns, remaining)
    if red:
        return Health.RED, red
    if missing:
        return Health.UNKNOWN, [
            Finding(
                f"no usable data over {', '.join(spans)}",
                f"no usable data over {', '.join(spans)} ({why})",
            )
            for why, spans in missing.items()
        ]
    yellow = tier_findings(policy.yellow, burns, remaining)
    if yellow:
        return Health.YELLOW, yellow
    return Health.GREEN, []
