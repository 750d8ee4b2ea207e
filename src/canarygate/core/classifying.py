"""From burn rates and remaining budget to a health level and the findings behind it: the
rule shared by a journey and by each of its segments.

Red as soon as the evidence shows it (even if another window is silent); otherwise any
missing measurement makes it unknown, so silence never looks green; then yellow; then green.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.specs import CombinedRule, HealthPolicy, HealthTier
from canarygate.core.vocabulary import Health


@dataclass(frozen=True)
class Finding:
    """Why a level holds: `summary` fits in parentheses (`burn 21 over 1h`), `detail` says all.
    `rule` names the combined rule that fired, when one did."""

    summary: str
    detail: str
    rule: str | None = None


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


def rule_findings(
    rules: Sequence[CombinedRule],
    level: Health,
    burns: Mapping[Duration, float | None],
    remaining: float | None,
) -> list[Finding]:
    """The combined rules of `level` that fire: every condition holds on a known value."""
    found: list[Finding] = []
    for rule in rules:
        if rule.level is not level or not fires(rule, burns, remaining):
            continue
        held = [
            f"burn rate {burns[c.window]:.3g} over {c.window} (at least {c.at_least:g})"
            for c in rule.burn_rates
        ]
        if rule.budget_remaining_below is not None and remaining is not None:
            held.append(
                f"budget remaining {remaining:.1%} (below {rule.budget_remaining_below:.0%})"
            )
        first = rule.burn_rates[0] if rule.burn_rates else None
        summary = (
            f"rule {rule.name}: burn {burns[first.window]:.3g} over {first.window}"
            if first is not None
            else f"rule {rule.name}: budget remaining {remaining:.1%}"
        )
        found.append(
            Finding(summary, f"rule {rule.name} ({rule.severity}): {' and '.join(held)}", rule.name)
        )
    return found


def fires(
    rule: CombinedRule, burns: Mapping[Duration, float | None], remaining: float | None
) -> bool:
    """All conditions at once, each on a known value (silence never fires a rule, and never
    keeps one from firing: a journey with silent windows is judged unknown by `classify`).
    A rule without conditions never fires (validation refuses one)."""
    if not rule.burn_rates and rule.budget_remaining_below is None:
        return False
    for condition in rule.burn_rates:
        rate = burns.get(condition.window)
        if rate is None or rate < condition.at_least:
            return False
    below = rule.budget_remaining_below
    return below is None or (remaining is not None and remaining < below)


def classify(
    policy: HealthPolicy,
    burns: Mapping[Duration, float | None],
    remaining: float | None,
    missing: Mapping[str, Sequence[str]],
) -> tuple[Health, list[Finding]]:
    """The level and its findings. `missing` maps why a window had no usable value to the
    windows it concerns (`"no-data: ..." -> ["5m", "30m"]`)."""
    red = tier_findings(policy.red, burns, remaining) + rule_findings(
        policy.rules, Health.RED, burns, remaining
    )
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
    yellow = tier_findings(policy.yellow, burns, remaining) + rule_findings(
        policy.rules, Health.YELLOW, burns, remaining
    )
    if yellow:
        return Health.YELLOW, yellow
    return Health.GREEN, []
