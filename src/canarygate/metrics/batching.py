"""One evaluation tick: identical queries are sent once, the queries of one subject travel
together (see `metrics.packing`), and failures become explicit "missing" observations for
the core.

A packed request that Prometheus refuses (a scalar part, a syntax error) is sent again part
by part, so each error is still reported against its own query; a query that cannot be
packed safely is always sent alone. Either way each part's answer is the one it would get
alone. A segmented query (see `segmentBy`) is asked the same way and answers one value per
segment: a journey costs one request whether it is segmented or not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.errors import MetricsError, QueryError
from canarygate.core.observations import Observation, QueryKey, Role
from canarygate.core.queries import PlannedQuery
from canarygate.core.slow_windows import Reading, SlowWindow, ratio_bounds, settled
from canarygate.core.specs import Segmentation
from canarygate.metrics.packing import (
    is_self_contained,
    missing_from,
    new_part_label,
    pack,
    unpack,
)
from canarygate.metrics.prometheus import PrometheusClient
from canarygate.metrics.segmenting import value_of
from canarygate.metrics.window_cache import Entry, WindowCache

__all__ = ["Ask", "QueryBatch", "missing_from"]


@dataclass(frozen=True)
class Ask:
    """One query as the batch shares it: the same text asked segmented and unsegmented is two
    asks (their answers mean different things)."""

    promql: str
    segmentation: Segmentation | None = None


class QueryBatch:
    """All queries of one tick, evaluated at the same instant so that duplicates can share."""

    def __init__(
        self,
        client: PrometheusClient,
        at: datetime,
        *,
        packing: bool = True,
        cache: WindowCache | None = None,
    ) -> None:
        self.client = client
        self.at = at
        self.packing = packing
        self.cache = cache
        self.requested = 0
        # Slow-window queries answered from the cache, and slow windows read again because
        # their reading could not stand in (see `observe`).
        self.cached = 0
        self.reread = 0
        # Per slow window (shared objects), what this tick found: see `observe`.
        self._readings_seen: dict[int, _Readings | None] = {}
        self._reusable_seen: dict[int, bool] = {}
        self._kept: set[int] = set()
        # Per plan object: its observation (the plan and slow windows kept, so ids stay theirs).
        self._plans: dict[
            tuple[int, int],
            tuple[
                asyncio.Task[dict[QueryKey, Observation]],
                Sequence[PlannedQuery],
                Sequence[SlowWindow],
            ],
        ] = {}
        self._packed_requests = 0
        self._single: dict[Ask, asyncio.Task[Observation]] = {}
        self._packed: dict[tuple[Ask, ...], asyncio.Task[list[Observation]]] = {}

    @property
    def distinct(self) -> int:
        """Distinct requests sent to Prometheus (packed requests count once)."""
        return len(self._single) + self._packed_requests

    def fetch(self, ask: Ask) -> asyncio.Task[Observation]:
        task = self._single.get(ask)
        if task is None:
            task = asyncio.ensure_future(self._run_single(ask))
            self._single[ask] = task
        return task

    def fetch_together(self, asks: tuple[Ask, ...]) -> asyncio.Task[list[Observation]]:
        task = self._packed.get(asks)
        if task is None:
            task = asyncio.ensure_future(self._run_together(asks))
            self._packed[asks] = task
        return task

    async def observe(
        self, planned: Sequence[PlannedQuery], slow: Sequence[SlowWindow] = ()
    ) -> dict[QueryKey, Observation]:
        """Every planned query's observation. With a cache, the `slow` windows (planned as
        well) are answered from an earlier reading where `core.slow_windows` proves it cannot
        change the decision: after this tick's fresh windows answered, so that the proof can
        use them; the others are read now, with their inner window, and kept."""
        self.requested += len(planned)
        # Gates holding the very same plan (the operator shares equal plans between gates)
        # share one observation, to be read only: they asked the same queries at one instant.
        shared = self._plans.get((id(planned), id(slow)))
        if shared is None:
            task = asyncio.ensure_future(self._observe_plan(planned, slow))
            shared = self._plans[(id(planned), id(slow))] = (task, planned, slow)
        return await shared[0]

    async def _observe_plan(
        self, planned: Sequence[PlannedQuery], slow: Sequence[SlowWindow]
    ) -> dict[QueryKey, Observation]:
        cache = self.cache
        if cache is None or not slow:
            return await self._observe(planned)
        kept: list[tuple[SlowWindow, _Readings]] = []
        refresh: list[SlowWindow] = []
        for window in slow:
            readings = self._readings(cache, window)
            if readings is None:
                refresh.append(window)
            else:
                kept.append((window, readings))
        skipped = {key for window, _ in kept for key in (window.good.key, window.total.key)}
        first = [q for q in planned if q.key not in skipped]
        first += [q for window in refresh for q in (window.inner_good, window.inner_total)]
        observed = await self._observe(first)
        self._keep(cache, refresh, observed)
        again: list[SlowWindow] = []
        for window, readings in kept:
            if self._reusable(window, readings, observed):
                observed[window.good.key] = readings.good.value
                observed[window.total.key] = readings.total.value
                self.cached += 2
            else:
                again.append(window)
        if again:
            self.reread += len(again)
            second = [q for w in again for q in (w.good, w.total, w.inner_good, w.inner_total)]
            observed.update(await self._observe(second))
            self._keep(cache, again, observed)
        for window in slow:
            observed.pop(window.inner_good.key, None)
            observed.pop(window.inner_total.key, None)
        return observed

    def _readings(self, cache: WindowCache, slow: SlowWindow) -> _Readings | None:
        """The kept readings of `slow`, if both of its queries have valid ones taken at one
        instant; looked up once per tick (gates that share a journey share its windows)."""
        if id(slow) in self._readings_seen:
            return self._readings_seen[id(slow)]
        good = cache.get(slow.good.promql, self.at)
        total = cache.get(slow.total.promql, self.at)
        found = None
        if good is not None and total is not None and good[0].at == total[0].at:
            found = _Readings(good[0], total[0], max(good[1], total[1]))
        self._readings_seen[id(slow)] = found
        return found

    def _reusable(
        self, slow: SlowWindow, readings: _Readings, observed: dict[QueryKey, Observation]
    ) -> bool:
        """Whether the readings of `slow` cannot change the decision (once per tick: every
        gate sharing it has the same readings and the same fresh answers)."""
        if id(slow) not in self._reusable_seen:
            self._reusable_seen[id(slow)] = _bound_settles(slow, readings, observed)
        return self._reusable_seen[id(slow)]

    def _keep(
        self,
        cache: WindowCache,
        windows: Sequence[SlowWindow],
        observed: dict[QueryKey, Observation],
    ) -> None:
        for slow in windows:
            if id(slow) in self._kept:
                continue  # another gate of this tick kept the same answers
            self._kept.add(id(slow))
            for whole, inner in ((slow.good, slow.inner_good), (slow.total, slow.inner_total)):
                cache.put(
                    whole.promql,
                    observed.get(whole.key),
                    observed.get(inner.key),
                    self.at,
                    slow.max_age,
                )

    async def _observe(self, planned: Iterable[PlannedQuery]) -> dict[QueryKey, Observation]:
        groups: dict[tuple[str, bool], list[PlannedQuery]] = {}
        for query in planned:
            groups.setdefault((query.key.subject, query.key.window is None), []).append(query)
        observed: dict[QueryKey, Observation] = {}
        pending: list[tuple[list[PlannedQuery], asyncio.Task[list[Observation]]]] = []
        singles: list[tuple[QueryKey, asyncio.Task[Observation]]] = []
        for group in groups.values():
            if self.packing and len(group) > 1:
                asks = tuple(Ask(q.promql, q.segmentation) for q in group)
                pending.append((group, self.fetch_together(asks)))
            else:
                singles.extend((q.key, self.fetch(Ask(q.promql, q.segmentation))) for q in group)
        for group, task in pending:
            observed.update(zip((q.key for q in group), await task, strict=True))
        for key, single in singles:
            observed[key] = await single
        return observed

    async def _run_single(self, ask: Ask) -> Observation:
        try:
            series = await self.client.query_series(ask.promql, self.at)
            return value_of(ask.promql, series, ask.segmentation)
        except MetricsError as error:
            return missing_from(error)

    async def _run_together(self, asks: tuple[Ask, ...]) -> list[Observation]:
        """Pack what can be packed safely; send the rest alone, at the same time."""
        packable = tuple(dict.fromkeys(a for a in asks if is_self_contained(a.promql)))
        alone = {a: self.fetch(a) for a in asks if a not in packable}
        if len(packable) > 1:
            answers = await self._run_packed(packable)
        else:
            answers = {a: await self.fetch(a) for a in packable}
        for ask, task in alone.items():
            answers[ask] = await task
        return [answers[a] for a in asks]

    async def _run_packed(self, asks: tuple[Ask, ...]) -> dict[Ask, Observation]:
        label = new_part_label()
        self._packed_requests += 1
        queries = [a.promql for a in asks]
        found: list[Observation]
        try:
            series = await self.client.query_series(pack(queries, label), self.at)
        except QueryError:
            found = list(await asyncio.gather(*(self.fetch(a) for a in asks)))
        except MetricsError as error:
            found = [missing_from(error)] * len(asks)
        else:
            found = unpack(queries, label, series, [a.segmentation for a in asks])
        return dict(zip(asks, found, strict=True))


@dataclass(frozen=True)
class _Readings:
    """A slow window's kept readings of good and total, and the older one's age."""

    good: Entry
    total: Entry
    age: float


def _bound_settles(
    slow: SlowWindow, readings: _Readings, observed: dict[QueryKey, Observation]
) -> bool:
    """Whether `core.slow_windows` proves the readings give the decision a fresh reading
    would, with this tick's fresh window of the journey."""
    fresh_window = slow.fresh_window(readings.age)
    if fresh_window is None:
        return False
    fresh_good = _number(observed.get(QueryKey(slow.journey.name, Role.GOOD, fresh_window)))
    fresh_total = _number(observed.get(QueryKey(slow.journey.name, Role.TOTAL, fresh_window)))
    if fresh_good is None or fresh_total is None:
        return False  # silence stays silence: the slow window is asked, too
    good, total = readings.good, readings.total
    bounds = ratio_bounds(
        slow,
        Reading(good.value, total.value),
        Reading(good.inner, total.inner),
        Reading(fresh_good, fresh_total),
        fresh_window,
    )
    return bounds is not None and settled(slow, *bounds)


def _number(value: Observation | None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    return float(value)
