"""Pictures of a replay (the `plot` extra: matplotlib), imported only by `replay --plot`.

drawing.py  one figure on one time axis: the weight and the decisions, the health band, each
            journey's burn rates per window against the policy's thresholds, the remaining
            budgets against their bounds, each guardrail's values against its limits
reports.py  the figure as PNG, SVG or PDF, or an HTML page with the figure, the timeline and
            the summary

Every drawn series carries an id (`burn-<journey>-<window>`, `threshold-red-14.4`,
`budget-<journey>`, `guardrail-<name>-canary`, `health-band`, `weight`, `decision-<action>`)
that SVG and HTML output keep, so a test or a script can find them.
"""

from canarygate.plotting.reports import plot_replay

__all__ = ["plot_replay"]
