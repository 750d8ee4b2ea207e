"""A journey that reads a recorded error ratio (`sli.recorded`: Sloth's
`slo:sli_error:ratio_rate{{window}}{...}`, or what `canarygate rules` records) is read as
good = 1 - ratio and total = 1, per window:

    good:  1 - (<recorded>)
    total: (<recorded>) * 0 + 1

so the core's arithmetic and silence rules apply unchanged: no recorded series is no data, a
NaN ratio (0/0, no traffic) is no data, a ratio below 0 or above 1 is invalid evidence. Each
query sits on lines of its own, so a `# comment` in it ends before the expression goes on.
"""

from __future__ import annotations

from canarygate.api.v1alpha1 import SliModel
from canarygate.core.specs import SliQueries


def reading_queries(sli: SliModel) -> SliQueries:
    """The good and total queries a gate evaluates for this SLI."""
    if sli.recorded is None:
        return SliQueries(good=sli.good, total=sli.total)
    ratio = f"(\n{sli.recorded}\n)"
    return SliQueries(good=f"1 - {ratio}", total=f"{ratio} * 0 + 1")
