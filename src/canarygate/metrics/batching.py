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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.errors import MetricsError, QueryError
from canarygate.core.observations import Observation, QueryKey
from canarygate.core.queries import PlannedQuery
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

__all__ = ["Ask", "QueryBatch", "missing_from"]


@dataclass(frozen=True)
class Ask:
    """One query as the batch shares it: the same text asked segmented and unsegmented is two
    asks (their answers mean different things)."""

    promql: str
    segmentation: Segmentation | None = None


class QueryBatch:
    """All queries of one tick, evaluated at the same instant so that duplicates can share."""

    def __init__(self, client: PrometheusClient, at: datetime, *, packing: bool = True) -> None:
        self.client = client
        self.at = at
        self.packing = packing
        self.requested = 0
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

    async def observe(self, planned: Iterable[PlannedQuery]) -> dict[QueryKey, Observation]:
        groups: dict[tuple[str, bool], list[PlannedQuery]] = {}
        for query in planned:
            self.requested += 1
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
