"""SLO arithmetic: error ratio, burn rate and remaining error budget from good/total counts."""

from __future__ import annotations

from canarygate.core.observations import Missing, MissingKind, Sample


def error_ratio(good: Sample, total: Sample) -> Sample:
    """Share of bad events. Total = 0 means nothing was measured, which is not "no errors"."""
    if isinstance(total, Missing):
        return total
    if isinstance(good, Missing):
        return good
    if total <= 0:
        return Missing(MissingKind.NO_DATA, "total is zero: no events in the window")
    # Counter rates over one window can disagree slightly (extrapolation), so clamp.
    return min(1.0, max(0.0, 1.0 - good / total))


def burn_rate(ratio: Sample, error_budget: float) -> Sample:
    """How many times faster than sustainable the budget is being spent."""
    if isinstance(ratio, Missing):
        return ratio
    return ratio / error_budget


def budget_remaining(ratio: Sample, error_budget: float) -> Sample:
    """Fraction of the compliance window's budget left; negative once overspent."""
    if isinstance(ratio, Missing):
        return ratio
    return 1.0 - ratio / error_budget
