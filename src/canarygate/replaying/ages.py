"""Freshness in a replay, without the live query's cost.

Live, each journey asks `time() - max(timestamp(<selector>) or max_over_time(...[1h:1m]))`
(`core.freshness`): one instant query, cheap. As a range query Prometheus evaluates
`timestamp()` step by step from scratch (about 3 s per series for a week at 1m, 13 s with the
subquery), so a replay asks instead, per selector, whether any sample exists within each of a
few probe windows, `present_over_time(<selector>[<probe>])`, which costs what a `rate()` does.

The age at a point is then the smallest probe window holding a sample: an upper bound of the
true age, and exact where it matters, since the gate's `maxSampleAge` is one of the probes
(stale exactly when no sample lies within it). No sample within the longest probe (the live
query's 1h lookback) is "no sample in the last 1h", as live; with several selectors the
stalest decides, and a selector with no sample at all is left out, as live.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from canarygate.core.durations import Duration
from canarygate.core.freshness import LOOKBACK, freshness_key, freshness_selectors
from canarygate.core.observations import Missing, MissingKind, Observation, QueryKey, Role
from canarygate.core.queries import PlannedQuery
from canarygate.core.specs import GateSpec

_MINUTE = 60_000
PROBES = (*(Duration(m * _MINUTE) for m in (1, 2, 5, 10, 15, 30)), LOOKBACK)


@dataclass(frozen=True)
class AgeProbes:
    """For one journey: per selector, per probe window, the key its presence is fetched under."""

    key: QueryKey  # the journey's freshness key, whose column this fills
    probes: tuple[tuple[tuple[Duration, QueryKey], ...], ...]  # per selector


def plan_age_probes(spec: GateSpec) -> tuple[tuple[AgeProbes, ...], tuple[PlannedQuery, ...]]:
    probes: list[AgeProbes] = []
    planned: list[PlannedQuery] = []
    windows = sorted({*PROBES, spec.health.max_sample_age})
    for journey in spec.journeys:
        selectors = freshness_selectors(journey, spec)
        if not selectors:
            continue
        per_selector = []
        for index, selector in enumerate(selectors):
            subject = f"{journey.name}\x00freshness\x00{index}"  # one packed request per selector
            keyed = tuple((w, QueryKey(subject, Role.FRESHNESS, w)) for w in windows)
            per_selector.append(keyed)
            planned += [
                PlannedQuery(key, f"max(present_over_time({selector}[{w}]))") for w, key in keyed
            ]
        probes.append(AgeProbes(freshness_key(journey), tuple(per_selector)))
    return tuple(probes), tuple(planned)


def age_column(
    probes: AgeProbes, columns: Mapping[QueryKey, Sequence[Observation]], points: int
) -> list[Observation]:
    return [_age_at(probes, columns, index) for index in range(points)]


def _age_at(
    probes: AgeProbes, columns: Mapping[QueryKey, Sequence[Observation]], index: int
) -> Observation:
    ages: list[float] = []
    for per_selector in probes.probes:
        found: float | None = None
        for window, key in per_selector:
            value = columns[key][index]
            if isinstance(value, Missing):
                if value.kind is not MissingKind.NO_DATA:
                    return value  # unreachable or refused: say so, as live
                continue
            if found is None:
                found = window.seconds
        if found is not None:
            ages.append(found)
    if not ages:
        return Missing(MissingKind.NO_DATA, f"no sample in the last {LOOKBACK}")
    return max(ages)
