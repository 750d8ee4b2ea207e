"""Range fetches for replays: every planned query of a gate measured at every point of a time
grid, with range queries (`/api/v1/query_range`) shared by all the points they cover, instead
of one instant query per query per point.

A range query answers, at each of its points, what an instant query at that time answers, so
each point's observation is the one a live evaluation would have made then, read with the
same rules: no series is no data, several series is the Error outcome, NaN and infinities are
no data (`metrics.packing.missing_from`). A missing point is silence, never zero.

How the requests are cut:
- identical queries are fetched once; the queries of one subject travel packed together, as
  in a live tick (`metrics.packing`), and a refused pack is sent again part by part;
- a long range is cut into chunks of at most `points_per_request` points (Prometheus refuses
  more than 11,000 points per series, and each answer must stay within the client's size cap);
- a query refused for a whole chunk is asked again at the chunk's first point alone: refused
  there too, it is refused everywhere (bad PromQL: the Error outcome at every point); answered
  there, the chunk is split in halves until each part is answered, since a range can be
  refused for its size (`query.max-samples`) where the same query at each point is not;
- Prometheus unreachable for a chunk makes its points unreachable (silence).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from canarygate.core.errors import MetricsError, QueryError
from canarygate.core.observations import Missing, MissingKind, Observation, QueryKey
from canarygate.core.queries import PlannedQuery
from canarygate.metrics.answers import Series
from canarygate.metrics.batching import Ask
from canarygate.metrics.packing import is_self_contained, missing_from, new_part_label, pack
from canarygate.metrics.prometheus import PrometheusClient
from canarygate.metrics.range_answers import RangeSeries
from canarygate.metrics.segmenting import value_of

# Prometheus' own limit of points per series in one range query.
PROMETHEUS_MAX_POINTS = 11_000
# Values in one answer: about 35 bytes of JSON each, so ~2 MB, well within the size cap.
VALUES_PER_ANSWER = 60_000

Progress = Callable[[int, int], None]  # (requests done, requests planned)


@dataclass(frozen=True)
class Grid:
    """Evaluation instants `start`, `start + step`... (`count` of them), in milliseconds."""

    start_ms: int
    step_ms: int
    count: int

    def __post_init__(self) -> None:
        if self.step_ms <= 0 or self.count <= 0:
            raise ValueError("a grid needs a positive step and at least one point")

    @classmethod
    def between(cls, start: datetime, end: datetime, step_ms: int) -> Grid:
        """Every step from `start` up to `end` included (when it falls on a step)."""
        start_ms = round(start.timestamp() * 1000)
        span = round(end.timestamp() * 1000) - start_ms
        return cls(start_ms, step_ms, span // step_ms + 1)

    def time_ms(self, index: int) -> int:
        return self.start_ms + index * self.step_ms

    def instant(self, index: int) -> datetime:
        return datetime.fromtimestamp(self.time_ms(index) / 1000, tz=UTC)

    @property
    def end(self) -> datetime:
        return self.instant(self.count - 1)

    def chunks(self, size: int) -> list[range]:
        """Point indexes cut into consecutive runs of at most `size`."""
        return [range(i, min(i + size, self.count)) for i in range(0, self.count, size)]


Column = list[Observation]  # one observation per grid point
_NOT_FETCHED = Missing(MissingKind.NOT_QUERIED, "not fetched")


@dataclass
class FetchStats:
    """What a range fetch cost."""

    requests_planned: int = 0
    requests: int = 0  # range requests sent (retries not counted; see the client's stats)
    refused_chunks: int = 0
    unavailable_chunks: int = 0
    failures: list[str] = field(default_factory=list)  # distinct unavailability messages


class RangeFetch:
    """All planned queries of one gate over one grid, each query fetched once."""

    def __init__(
        self,
        client: PrometheusClient,
        grid: Grid,
        *,
        packing: bool = True,
        values_per_answer: int = VALUES_PER_ANSWER,
        progress: Progress | None = None,
    ) -> None:
        self.client = client
        self.grid = grid
        self.packing = packing
        self.values_per_answer = values_per_answer
        self.progress = progress
        self.stats = FetchStats()
        self._done = 0

    async def observe(self, planned: Iterable[PlannedQuery]) -> dict[QueryKey, Column]:
        """One column of observations per planned query, in grid order."""
        groups: dict[tuple[str, bool], list[PlannedQuery]] = {}
        for query in planned:
            groups.setdefault((query.key.subject, query.key.window is None), []).append(query)
        jobs: list[tuple[Ask, ...]] = []
        seen: set[Ask] = set()
        for group in groups.values():
            asks = tuple(dict.fromkeys(_ask(q) for q in group if _ask(q) not in seen))
            seen.update(asks)
            packable = tuple(a for a in asks if is_self_contained(a.promql)) if self.packing else ()
            if len(packable) > 1:
                jobs.append(packable)
            jobs += [(a,) for a in asks if a not in packable or len(packable) == 1]
        chunked = [(asks, chunk) for asks in jobs for chunk in self._chunks(len(asks))]
        self.stats.requests_planned = len(chunked)
        self._report()
        columns: dict[Ask, Column] = {}
        results = await asyncio.gather(*(self._fetch_chunk(asks, ch) for asks, ch in chunked))
        for (asks, chunk), found in zip(chunked, results, strict=True):
            for ask, samples in zip(asks, found, strict=True):
                column = columns.setdefault(ask, [_NOT_FETCHED] * self.grid.count)
                column[chunk.start : chunk.stop] = samples
        return {q.key: columns[_ask(q)] for group in groups.values() for q in group}

    def _chunks(self, parts: int) -> list[range]:
        size = max(1, min(PROMETHEUS_MAX_POINTS, self.values_per_answer // max(1, parts)))
        return self.grid.chunks(size)

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self._done, self.stats.requests_planned)

    async def _fetch_chunk(self, asks: tuple[Ask, ...], chunk: range) -> list[Column]:
        try:
            if len(asks) == 1:
                return [await self._single(asks[0], chunk)]
            try:
                return await self._packed(asks, chunk)
            except QueryError:
                # Each part again alone, so that each refusal names its own query.
                alone = await asyncio.gather(*(self._single(a, chunk) for a in asks))
                return list(alone)
        finally:
            self._done += 1
            self._report()

    async def _packed(self, asks: tuple[Ask, ...], chunk: range) -> list[Column]:
        label = new_part_label()
        try:
            series = await self._range(pack([a.promql for a in asks], label), chunk)
        except QueryError:
            raise
        except MetricsError as error:
            return [self._unavailable(error, chunk)] * len(asks)
        parts: list[list[RangeSeries]] = [[] for _ in asks]
        for item in series:
            part = item.labels.get(label)
            if part is not None and part.isdigit() and int(part) < len(asks):
                labels = {k: v for k, v in item.labels.items() if k != label}
                parts[int(part)].append(RangeSeries(labels, item.points))
        return [self._column(ask, found, chunk) for ask, found in zip(asks, parts, strict=True)]

    async def _single(self, ask: Ask, chunk: range) -> Column:
        try:
            return self._column(ask, await self._range(ask.promql, chunk), chunk)
        except QueryError as refusal:
            return await self._refused(ask, chunk, refusal)
        except MetricsError as error:
            return self._unavailable(error, chunk)

    async def _refused(self, ask: Ask, chunk: range, refusal: QueryError) -> Column:
        """Refused over `chunk`: refused at one point too means refused everywhere; else the
        range was too much at once, and halves are asked for."""
        if len(chunk) > 1:
            first = range(chunk.start, chunk.start + 1)
            try:
                await self._range(ask.promql, first)
            except QueryError:
                pass
            except MetricsError as error:
                return self._unavailable(error, chunk)
            else:
                middle = chunk.start + len(chunk) // 2
                halves = (range(chunk.start, middle), range(middle, chunk.stop))
                found = await asyncio.gather(*(self._single(ask, half) for half in halves))
                return found[0] + found[1]
        self.stats.refused_chunks += 1
        return [missing_from(refusal)] * len(chunk)

    def _unavailable(self, error: MetricsError, chunk: range) -> Column:
        self.stats.unavailable_chunks += 1
        if error.message not in self.stats.failures:
            self.stats.failures.append(error.message)
        return [missing_from(error)] * len(chunk)

    async def _range(self, promql: str, chunk: range) -> list[RangeSeries]:
        self.stats.requests += 1
        start, end = self.grid.instant(chunk.start), self.grid.instant(chunk.stop - 1)
        return await self.client.query_range_series(promql, start, end, self.grid.step_ms / 1000)

    def _column(self, ask: Ask, series: Sequence[RangeSeries], chunk: range) -> Column:
        """One observation per point of `chunk`, as an instant query at that time reads."""
        return [
            observation_at(ask, [s for s in series if t in s.points], t)
            for t in (self.grid.time_ms(i) for i in chunk)
        ]


def _ask(query: PlannedQuery) -> Ask:
    return Ask(query.promql, query.segmentation)


def observation_at(ask: Ask, series: Sequence[RangeSeries], time_ms: int) -> Observation:
    """What an instant query at `time_ms` reads from the series that have a point there."""
    if len(series) == 1 and ask.segmentation is None:
        value = series[0].points[time_ms]
        if math.isfinite(value):
            return value  # the common case, without building a Series
    try:
        found = [Series(s.labels, s.points[time_ms]) for s in series]
        return value_of(ask.promql, found, ask.segmentation)
    except MetricsError as error:
        return missing_from(error)
