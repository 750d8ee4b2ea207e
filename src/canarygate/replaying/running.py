"""Replay one gate over a past range: fetch every query over the whole range at once (range
queries, `metrics.ranges`), then decide at every point with the same `core.decide` the
operator calls, carrying the gate's state (weight, consecutive passes, guardrail failure
counts, phase, a freeze's red episode, the checks' results) from one evaluation to the next as
the operator persists it in status. Webhook checks are not called in a replay (the past cannot
be asked): each is taken as having answered 2xx, as approvals are taken as given.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from canarygate.api.zones import wall_clocks
from canarygate.core.checks import CheckResult
from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision
from canarygate.core.queries import plan_queries
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.metrics.prometheus import PrometheusClient
from canarygate.metrics.ranges import FetchStats, Grid, RangeFetch
from canarygate.replaying.ages import age_column, plan_age_probes
from canarygate.replaying.paths import WeightPath

# (phase, done, total): phase is "fetching" (requests) or "deciding" (evaluation points).
Progress = Callable[[str, int, int], None]
# Report deciding progress this often (points), so a long replay shows it is alive.
_DECIDING_REPORT_EVERY = 1000


@dataclass(frozen=True)
class Replay:
    """Every decision of a replay, in time order, and what fetching the data cost."""

    grid: Grid
    path: WeightPath
    decisions: tuple[Decision, ...]
    fetch: FetchStats
    fetch_seconds: float
    decide_seconds: float
    queries: int  # distinct planned queries per evaluation


def _replayed(decision: Decision) -> dict[str, CheckResult]:
    step = decision.checks_step if decision.checks_step is not None else decision.weight_current
    return {
        name: CheckResult(step=step, status_code=200, message="not called in a replay")
        for name in decision.checks_wanted
    }


async def replay_gate(
    spec: GateSpec,
    remembered: GateState,
    client: PrometheusClient,
    grid: Grid,
    path: WeightPath,
    *,
    progress: Progress | None = None,
) -> Replay:
    live = plan_queries(spec)
    probes, probing = plan_age_probes(spec)
    # The live freshness query is costly as a range query: presence probes stand in for it.
    replaced = {p.key for p in probes}
    planned = (*(q for q in live if q.key not in replaced), *probing)
    fetch = RangeFetch(
        client,
        grid,
        progress=(lambda done, total: progress("fetching", done, total)) if progress else None,
    )
    started = time.monotonic()
    columns = await fetch.observe(planned)
    for probe in probes:
        columns[probe.key] = age_column(probe, columns, grid.count)
    fetched = time.monotonic()
    keys = [q.key for q in live]
    state = path.first_state(remembered)
    decisions: list[Decision] = []
    for index in range(grid.count):
        observations = {key: columns[key][index] for key in keys}
        at = grid.instant(index)
        clocks = wall_clocks(spec, at)
        decision = decide(spec, state, observations, at, clocks)
        if decision.checks_wanted:
            decision = decide(spec, state, observations, at, clocks, checks=_replayed(decision))
        decisions.append(decision)
        state = path.next_state(decision)
        if progress is not None and (index + 1) % _DECIDING_REPORT_EVERY == 0:
            progress("deciding", index + 1, grid.count)
    if progress is not None:
        progress("deciding", grid.count, grid.count)
    return Replay(
        grid=grid,
        path=path,
        decisions=tuple(decisions),
        fetch=fetch.stats,
        fetch_seconds=fetched - started,
        decide_seconds=time.monotonic() - fetched,
        queries=len({q.promql for q in live}),
    )
