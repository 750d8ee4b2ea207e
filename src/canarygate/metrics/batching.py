"""One evaluation tick: identical queries are sent once, related queries travel together,
and failures become explicit "missing" observations for the core.

Packing: the queries of one subject (a journey's good/total over every window, or a
guardrail's canary/baseline/samples) go to Prometheus as one request,

    label_replace(<q0>, "canarygate_part", "0", "", "") or label_replace(<q1>, ...) ...

and the answer is split back by that label. Per request, Prometheus and the HTTP client
each spend about a millisecond before any data is read, so this cuts the cost of a tick
several times (see bench/). If a packed request is refused (a scalar part, a syntax
error), its parts are sent one by one, so each error is still reported against its query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import datetime

from canarygate.core.errors import MetricsError, MetricsUnavailable, NoDataError, QueryError
from canarygate.core.observations import Missing, MissingKind, QueryKey, Sample
from canarygate.core.queries import PlannedQuery
from canarygate.metrics.prometheus import PrometheusClient, Series, single_value

PART_LABEL = "canarygate_part"


def missing_from(error: MetricsError) -> Missing:
    if isinstance(error, NoDataError):
        return Missing(MissingKind.NO_DATA, error.message)
    if isinstance(error, QueryError):
        return Missing(MissingKind.QUERY_ERROR, error.message)
    if isinstance(error, MetricsUnavailable):
        return Missing(MissingKind.UNREACHABLE, error.message)
    return Missing(MissingKind.QUERY_ERROR, str(error))


def pack(queries: Sequence[str]) -> str:
    return " or ".join(
        f'label_replace({query}, "{PART_LABEL}", "{index}", "", "")'
        for index, query in enumerate(queries)
    )


def unpack(queries: Sequence[str], series: Iterable[Series]) -> list[Sample]:
    """Split a packed answer back into one sample (or missing) per part."""
    parts: dict[str, list[Series]] = {str(i): [] for i in range(len(queries))}
    for item in series:
        labels = dict(item.labels)
        part = labels.pop(PART_LABEL, None)
        if part in parts:
            parts[part].append(Series(labels, item.value))
    samples: list[Sample] = []
    for index, query in enumerate(queries):
        try:
            samples.append(single_value(query, parts[str(index)]))
        except MetricsError as error:
            samples.append(missing_from(error))
    return samples


class QueryBatch:
    """All queries of one tick, evaluated at the same instant so that duplicates can share."""

    def __init__(self, client: PrometheusClient, at: datetime, *, packing: bool = True) -> None:
        self.client = client
        self.at = at
        self.packing = packing
        self.requested = 0
        self._single: dict[str, asyncio.Task[Sample]] = {}
        self._packed: dict[tuple[str, ...], asyncio.Task[list[Sample]]] = {}

    @property
    def distinct(self) -> int:
        """Distinct requests sent to Prometheus (packed requests count once)."""
        return len(self._single) + len(self._packed)

    async def _run_single(self, promql: str) -> Sample:
        try:
            return await self.client.query(promql, self.at)
        except MetricsError as error:
            return missing_from(error)

    def fetch(self, promql: str) -> asyncio.Task[Sample]:
        task = self._single.get(promql)
        if task is None:
            task = asyncio.ensure_future(self._run_single(promql))
            self._single[promql] = task
        return task

    async def _run_packed(self, queries: tuple[str, ...]) -> list[Sample]:
        try:
            series = await self.client.query_series(pack(queries), self.at)
        except QueryError:
            return list(await asyncio.gather(*(self.fetch(q) for q in queries)))
        except MetricsError as error:
            return [missing_from(error)] * len(queries)
        return unpack(queries, series)

    def fetch_together(self, queries: tuple[str, ...]) -> asyncio.Task[list[Sample]]:
        task = self._packed.get(queries)
        if task is None:
            task = asyncio.ensure_future(self._run_packed(queries))
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
