"""One evaluation tick: identical queries are sent once, the queries of one subject travel
together (see `metrics.packing`), and failures become explicit "missing" observations for
the core.

A packed request that Prometheus refuses (a scalar part, a syntax error) is sent again part
by part, so each error is still reported against its own query; a query that cannot be
packed safely is always sent alone. Either way each part's answer is the one it would get
alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from canarygate.core.errors import MetricsError, QueryError
from canarygate.core.observations import QueryKey, Sample
from canarygate.core.queries import PlannedQuery
from canarygate.metrics.packing import (
    is_self_contained,
    missing_from,
    new_part_label,
    pack,
    unpack,
)
from canarygate.metrics.prometheus import PrometheusClient

__all__ = ["QueryBatch", "missing_from"]


class QueryBatch:
    """All queries of one tick, evaluated at the same instant so that duplicates can share."""

    def __init__(self, client: PrometheusClient, at: datetime, *, packing: bool = True) -> None:
        self.client = client
        self.at = at
        self.packing = packing
        self.requested = 0
        self._packed_requests = 0
        self._single: dict[str, asyncio.Task[Sample]] = {}
        self._packed: dict[tuple[str, ...], asyncio.Task[list[Sample]]] = {}

    @property
    def distinct(self) -> int:
        """Distinct requests sent to Prometheus (packed requests count once)."""
        return len(self._single) + self._packed_requests

    def fetch(self, promql: str) -> asyncio.Task[Sample]:
        task = self._single.get(promql)
        if task is None:
            task = asyncio.ensure_future(self._run_single(promql))
            self._single[promql] = task
        return task

    def fetch_together(self, queries: tuple[str, ...]) -> asyncio.Task[list[Sample]]:
        task = self._packed.get(queries)
        if task is None:
            task = asyncio.ensure_future(self._run_together(queries))
            self._packed[queries] = task
        return task

    async def observe(self, planned: Iterable[PlannedQuery]) -> dict[QueryKey, Sample]:
        groups: dict[tuple[str, bool], list[PlannedQuery]] = {}
        for query in planned:
            self.requested += 1
            groups.setdefault((query.key.subject, query.key.window is None), []).append(query)
        observed: dict[QueryKey, Sample] = {}
        pending: list[tuple[list[PlannedQuery], asyncio.Task[list[Sample]]]] = []
        singles: list[tuple[QueryKey, asyncio.Task[Sample]]] = []
        for group in groups.values():
            if self.packing and len(group) > 1:
                pending.append((group, self.fetch_together(tuple(q.promql for q in group))))
            else:
                singles.extend((q.key, self.fetch(q.promql)) for q in group)
        for group, task in pending:
            observed.update(zip((q.key for q in group), await task, strict=True))
        for key, single in singles:
            observed[key] = await single
        return observed

    async def _run_single(self, promql: str) -> Sample:
        try:
            return await self.client.query(promql, self.at)
        except MetricsError as error:
            return missing_from(error)

    async def _run_together(self, queries: tuple[str, ...]) -> list[Sample]:
        """Pack what can be packed safely; send the rest alone, at the same time."""
        packable = tuple(dict.fromkeys(q for q in queries if is_self_contained(q)))
        alone = {q: self.fetch(q) for q in queries if q not in packable}
        if len(packable) > 1:
            answers = await self._run_packed(packable)
        else:
            answers = {q: await self.fetch(q) for q in packable}
        for query, task in alone.items():
            answers[query] = await task
        return [answers[q] for q in queries]

    async def _run_packed(self, queries: tuple[str, ...]) -> dict[str, Sample]:
        label = new_part_label()
        self._packed_requests += 1
        try:
            series = await self.client.query_series(pack(queries, label), self.at)
        except QueryError:
            samples = list(await asyncio.gather(*(self.fetch(q) for q in queries)))
        except MetricsError as error:
            samples = [missing_from(error)] * len(queries)
        else:
            samples = unpack(queries, label, series)
        return dict(zip(queries, samples, strict=True))
