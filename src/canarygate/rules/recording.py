"""Recording rules for a journey: its error ratio over every window the gate reads (the
policy's burn-rate windows and the compliance window), and Sloth's meta rules (objective,
error budget, period, current and period burn rate, remaining budget, info).

The ratio is recorded as the gate computes it, `1 - good/total`, from the journey's own
`sli.good` and `sli.total`, so the gate reading the recorded series (`sli.recorded`) sees the
numbers it would compute from the raw queries. The compliance window is recorded the same
way (Sloth averages its 5m ratios over the period instead: cheaper, but not weighted by
traffic, so it is not the budget the gate computes).
"""

from __future__ import annotations

from typing import Any

from canarygate.core.durations import Duration
from canarygate.core.specs import JourneySpec
from canarygate.core.templating import render
from canarygate.rules.naming import ERROR_RATIO, SloIdentity

Rule = dict[str, Any]


def ratio_expression(journey: JourneySpec, window: Duration, interval: Duration) -> str:
    """`1 - good/total` over `window`, each query on lines of its own so that a `# comment`
    in one ends before the expression goes on. A segmented journey's queries answer one
    series per segment: summed, they give the journey over all of its traffic, as the gate
    computes it (one series per SLO, as Sloth records it)."""
    values = {"window": window.text, "interval": interval.text}
    good = render(journey.sli.good, values)
    total = render(journey.sli.total, values)
    if journey.segments is not None:
        good, total = f"sum(\n{good}\n)", f"sum(\n{total}\n)"
    return f"1 - (\n  (\n{good}\n  )\n  /\n  (\n{total}\n  )\n)\n"


def sli_recordings(
    journey: JourneySpec, identity: SloIdentity, windows: tuple[Duration, ...], interval: Duration
) -> dict[str, Any]:
    rules: list[Rule] = [
        {
            "record": f"{ERROR_RATIO}{window}",
            "expr": ratio_expression(journey, window, interval),
            "labels": {**identity.labels, "sloth_window": window.text},
        }
        for window in windows
    ]
    return {"name": f"sloth-slo-sli-recordings-{identity.id}", "rules": rules}


def meta_recordings(
    journey: JourneySpec, identity: SloIdentity, shortest: Duration
) -> dict[str, Any]:
    objective = journey.objective_percent / 100
    matchers = identity.matchers
    period = journey.window
    labels = identity.labels
    rules: list[Rule] = [
        {"record": "slo:objective:ratio", "expr": f"vector({objective:.15g})", "labels": labels},
        {
            "record": "slo:error_budget:ratio",
            "expr": f"vector(1-{objective:.15g})",
            "labels": labels,
        },
        {
            "record": "slo:time_period:days",
            "expr": f"vector({period.milliseconds / 86_400_000:.15g})",
            "labels": labels,
        },
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"{identity.ratio(shortest)}\n/ on(sloth_id, sloth_slo, sloth_service) "
            f"group_left\nslo:error_budget:ratio{matchers}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"{identity.ratio(period)}\n/ on(sloth_id, sloth_slo, sloth_service) "
            f"group_left\nslo:error_budget:ratio{matchers}\n",
            "labels": labels,
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{matchers}",
            "labels": labels,
        },
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **labels,
                "sloth_mode": "canarygate",
                "sloth_objective": f"{journey.objective_percent:g}",
            },
        },
    ]
    return {"name": f"sloth-slo-meta-recordings-{identity.id}", "rules": rules}
