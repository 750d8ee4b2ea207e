"""Named combined health rules a gate can take by name (`spec.health.rules[].preset`).

The paging rules this project is built on combine a burn rate with what is left of the
budget: page when the burn rate is at least 4 and less than a quarter of the budget remains;
a stricter service pages at 3 and half. Each preset reads its burn rate over an hour and
over five minutes, both at the bound (the SRE workbook's long and short window): the hour
makes a one-minute blip too small to fire it, the five minutes let it stop firing within
minutes once the burn stops, instead of an hour later.
"""

from __future__ import annotations

from typing import Final

from canarygate.core.durations import Duration
from canarygate.core.specs import BurnCondition, CombinedRule
from canarygate.core.vocabulary import RuleSeverity

_HOUR: Final = Duration(3_600_000)
_FIVE_MINUTES: Final = Duration(300_000)


def _preset(name: str, burn: float, below: float) -> CombinedRule:
    return CombinedRule(
        name=name,
        severity=RuleSeverity.PAGE,
        burn_rates=(BurnCondition(_HOUR, burn), BurnCondition(_FIVE_MINUTES, burn)),
        budget_remaining_below=below,
        preset=name,
    )


PRESETS: Final[dict[str, CombinedRule]] = {
    rule.name: rule
    for rule in (
        _preset("burn4x-budget25", 4.0, 0.25),
        _preset("burn3x-budget50", 3.0, 0.50),
    )
}


def preset_rule(
    preset: str,
    *,
    name: str,
    journeys: tuple[str, ...] = (),
    severity: RuleSeverity | None = None,
) -> CombinedRule:
    """The preset under the gate's own name for it, for the journeys it names, with its own
    severity (page by default)."""
    found = PRESETS[preset]
    return CombinedRule(
        name=name,
        severity=severity or found.severity,
        burn_rates=found.burn_rates,
        budget_remaining_below=found.budget_remaining_below,
        journeys=journeys,
        preset=preset,
    )
