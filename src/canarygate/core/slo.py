"""SLO arithmetic: error ratio, burn rate and remaining error budget from good/total counts.

Counts that cannot be true are *invalid evidence* and are treated like silence, never as
"no errors": a negative count, or more good events than events in all (the usual cause is
swapped or differently filtered `sli.good` / `sli.total` queries). Clamping such a ratio to
zero errors would read an incident as green.
"""

from __future__ import annotations

from canarygate.core.observations import Missing, MissingKind, Sample

# How far good may exceed total before the pair is invalid, in burn-rate units: an excess
# this small could only hide a burn rate below 0.01, far under every health threshold.
GOOD_OVER_TOTAL_TOLERANCE_BURN = 0.01


def error_ratio(good: Sample, total: Sample, error_budget: float) -> Sample:
    """Share of bad events. Total = 0 means nothing was measured, which is not "no errors"."""
    if isinstance(total, Missing):
        return total
    if isinstance(good, Missing):
        return good
    if good < 0 or total < 0:
        return Missing(
            MissingKind.INVALID,
            f"negative count (good {good:.6g}, total {total:.6g}); counts cannot be negative",
        )
    if total == 0:
        return Missing(MissingKind.NO_DATA, "total is zero: no events in the window")
    ratio = 1.0 - good / total
    if ratio < -GOOD_OVER_TOTAL_TOLERANCE_BURN * error_budget:
        return Missing(
            MissingKind.INVALID,
            f"good {good:.6g} > total {total:.6g}; sli.good must count a subset of sli.total",
        )
    # Within the tolerance, counter rates over one window can disagree slightly.
    return min(1.0, max(0.0, ratio))


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
