"""One evaluation tick: identical queries are sent once, concurrently, and failures become
explicit "missing" observations for the core.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime

from canarygate.core.errors import NoDataError, ProviderError, ProviderUnavailable, QueryError
from canarygate.core.observations import Missing, MissingKind, QueryKey, Sample
from canarygate.core.queries import PlannedQuery
from canarygate.providers.prometheus import PrometheusClient


def missing_from(error: ProviderError) -> Missing:
    if isinstance(error, NoDataError):
        return Missing(MissingKind.NO_DATA, error.message)
    if isinstance(error, QueryError):
        return Missing(MissingKind.QUERY_ERROR, error.message)
    if isinstance(error, ProviderUnavailable):
        return Missing(MissingKind.UNREACHABLE, error.message)
    return Missing(MissingKind.QUERY_ERROR, str(error))


class QueryBatch:
    """All queries of one tick, evaluated at the same instant so that duplicates can share."""

    def __init__(self, client: PrometheusClient, at: datetime) -> None:
        self.client = client
        self.at = at
        self.requested = 0
        self._pending: dict[str, asyncio.Task[Sample]] = {}

    @property
    def distinct(self) -> int:
        return len(self._pending)

    async def _run(self, promql: str) -> Sample:
        try:
            return await self.client.query(promql, self.at)
        except ProviderError as error:
            return missing_from(error)

    def fetch(self, promql: str) -> asyncio.Task[Sample]:
        self.requested += 1
        task = self._pending.get(promql)
        if task is None:
            task = asyncio.ensure_future(self._run(promql))
            self._pending[promql] = task
        return task

    async def observe(self, planned: Iterable[PlannedQuery]) -> dict[QueryKey, Sample]:
        tasks = [(query.key, self.fetch(query.promql)) for query in planned]
        return {key: await task for key, task in tasks}
