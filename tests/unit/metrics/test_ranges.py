"""Range fetches (replays) through the real client against an httpx.MockTransport that plays
Prometheus' query_range: every point is read as an instant query at that time would be, cut
into chunks, packed, with refusals and outages kept per chunk and per point."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from canarygate.core import Duration, Missing, MissingKind, QueryKey, Role
from canarygate.core.errors import MetricsUnavailable, QueryError
from canarygate.core.queries import PlannedQuery
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.metrics.range_answers import range_series_from_answer
from canarygate.metrics.ranges import Grid, RangeFetch

START = datetime(2026, 1, 15, tzinfo=UTC)
PACKED_PART = re.compile(r'label_replace\(\n(.*?)\n, "(canarygate_part_[0-9a-f]+)", "(\d+)"', re.S)
# A query's value at a time (unix seconds): a number, None (no series), or several series.
Value = float | None | list[float]


class FakePrometheus:
    """Answers query_range for known queries; counts requests; can refuse or fail."""

    def __init__(self, values: dict[str, Callable[[float], Value]]) -> None:
        self.values = values
        self.requests: list[dict[str, str]] = []
        self.refuse: set[str] = set()  # refused whatever the range
        self.max_points: int | None = None  # refuse (execution) ranges longer than this
        self.down_after: float | None = None  # 503 for ranges starting at or after this

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        self.requests.append(form)
        assert request.url.path == "/api/v1/query_range"
        start, end, step = float(form["start"]), float(form["end"]), float(form["step"])
        times = [start + i * step for i in range(round((end - start) / step) + 1)]
        if self.down_after is not None and start >= self.down_after:
            return httpx.Response(503, text="down")
        packed = PACKED_PART.findall(form["query"])
        parts = [(q, {label: index}) for q, label, index in packed] or [(form["query"], {})]
        if any(q in self.refuse for q, _ in parts):
            return _error(400, "bad_data", "parse error")
        if self.max_points is not None and len(times) > self.max_points:
            return _error(422, "execution", "query processing would load too many samples")
        result: list[dict[str, Any]] = []
        for query, tag in parts:
            result += _matrix(self.values[query], times, tag)
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": result}}
        )


def _error(status: int, kind: str, text: str) -> httpx.Response:
    return httpx.Response(status, json={"status": "error", "errorType": kind, "error": text})


def _matrix(
    value: Callable[[float], Value], times: list[float], tag: dict[str, str]
) -> list[dict[str, Any]]:
    series: dict[int, list[list[Any]]] = {}
    for t in times:
        found = value(t)
        values = [] if found is None else found if isinstance(found, list) else [found]
        for index, number in enumerate(values):
            series.setdefault(index, []).append([t, _text(number)])
    return [{"metric": {**tag, "s": str(i)}, "values": v} for i, v in series.items()]


def _text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return repr(number)


def fetch(
    prometheus: FakePrometheus,
    planned: list[PlannedQuery],
    grid: Grid,
    **options: Any,
) -> tuple[dict[QueryKey, list[Any]], RangeFetch]:
    async def run() -> tuple[dict[QueryKey, list[Any]], RangeFetch]:
        config = PrometheusConfig(address="http://prometheus:9090", retries=0)
        async with PrometheusClient(config, transport=prometheus.transport()) as client:
            ranges = RangeFetch(client, grid, **options)
            return await ranges.observe(planned), ranges

    return asyncio.run(run())


def minutes(count: int) -> Grid:
    return Grid.between(START, START + timedelta(minutes=count - 1), 60_000)


def key(subject: str, role: Role, window: int | None = 5) -> QueryKey:
    return QueryKey(subject, role, Duration(window * 60_000) if window else None)


def offset(t: float) -> float:
    return (t - START.timestamp()) / 60


def test_grid_covers_both_ends_on_the_step() -> None:
    grid = Grid.between(START, START + timedelta(hours=1), 60_000)
    assert grid.count == 61
    assert grid.instant(0) == START
    assert grid.end == START + timedelta(hours=1)
    assert [len(c) for c in grid.chunks(25)] == [25, 25, 11]


def test_each_point_reads_as_an_instant_query_would() -> None:
    prometheus = FakePrometheus(
        {
            "good": lambda t: 990.0 + offset(t),
            "total": lambda t: None if offset(t) == 3 else 1000.0,  # a gap: silence, not zero
            "nan": lambda _: math.nan,
            "two": lambda _: [1.0, 2.0],
        }
    )
    planned = [
        PlannedQuery(key("j", Role.GOOD), "good"),
        PlannedQuery(key("j", Role.TOTAL), "total"),
        PlannedQuery(key("g", Role.CANARY, None), "nan"),
        PlannedQuery(key("g", Role.SAMPLES, None), "two"),
    ]
    found, ranges = fetch(prometheus, planned, minutes(6))
    assert found[key("j", Role.GOOD)] == [990.0, 991.0, 992.0, 993.0, 994.0, 995.0]
    total = found[key("j", Role.TOTAL)]
    assert total[:3] == [1000.0] * 3
    assert isinstance(total[3], Missing)
    assert total[3].kind is MissingKind.NO_DATA
    assert all(
        isinstance(v, Missing) and v.kind is MissingKind.NO_DATA
        for v in found[key("g", Role.CANARY, None)]
    )
    several = found[key("g", Role.SAMPLES, None)]
    assert all(isinstance(v, Missing) and v.kind is MissingKind.QUERY_ERROR for v in several)
    # One packed request per subject, not one per query and point.
    assert len(prometheus.requests) == 2
    assert ranges.stats.requests_planned == 2


def test_long_ranges_are_cut_into_chunks_that_give_the_same_columns() -> None:
    values: dict[str, Callable[[float], Value]] = {
        "a": offset,
        "b": lambda t: 2 * offset(t),
    }
    planned = [
        PlannedQuery(key("j", Role.GOOD), "a"),
        PlannedQuery(key("j", Role.TOTAL), "b"),
    ]
    whole, _ = fetch(FakePrometheus(values), planned, minutes(100))
    cut = FakePrometheus(values)
    progress: list[tuple[int, int]] = []
    chunked, _ = fetch(
        cut,
        planned,
        minutes(100),
        values_per_answer=60,
        progress=lambda done, total: progress.append((done, total)),
    )
    assert chunked == whole
    assert whole[key("j", Role.TOTAL)][99] == 198.0
    assert len(cut.requests) == 4  # 30 points per request for 2 parts
    assert progress[0] == (0, 4)
    assert progress[-1] == (4, 4)


def test_identical_queries_are_fetched_once() -> None:
    prometheus = FakePrometheus({"x": lambda t: 1.0})
    planned = [PlannedQuery(key(s, Role.CANARY, None), "x") for s in ("a", "b", "c")]
    found, _ = fetch(prometheus, planned, minutes(3))
    assert len(prometheus.requests) == 1
    assert {tuple(v) for v in found.values()} == {(1.0, 1.0, 1.0)}


def test_a_refused_part_is_an_error_at_every_point_and_the_others_still_answer() -> None:
    prometheus = FakePrometheus({"ok": lambda t: 5.0, "bad(": lambda t: 1.0})
    prometheus.refuse.add("bad(")
    planned = [
        PlannedQuery(key("j", Role.GOOD), "ok"),
        PlannedQuery(key("j", Role.TOTAL), "bad("),
    ]
    found, ranges = fetch(prometheus, planned, minutes(10))
    assert found[key("j", Role.GOOD)] == [5.0] * 10
    refused = found[key("j", Role.TOTAL)]
    assert all(isinstance(v, Missing) and v.kind is MissingKind.QUERY_ERROR for v in refused)
    assert isinstance(refused[0], Missing)
    assert "parse error" in refused[0].detail
    assert ranges.stats.refused_chunks == 1


def test_a_range_refused_for_its_size_is_split_until_it_is_answered() -> None:
    prometheus = FakePrometheus({"heavy": offset})
    prometheus.max_points = 7
    planned = [PlannedQuery(key("g", Role.CANARY, None), "heavy")]
    found, ranges = fetch(prometheus, planned, minutes(40))
    assert found[key("g", Role.CANARY, None)] == [float(i) for i in range(40)]
    assert ranges.stats.refused_chunks == 0


def test_an_outage_is_silence_for_the_points_it_covers_only() -> None:
    prometheus = FakePrometheus({"a": lambda t: 1.0})
    prometheus.down_after = (START + timedelta(minutes=30)).timestamp()
    planned = [PlannedQuery(key("g", Role.CANARY, None), "a")]
    found, ranges = fetch(prometheus, planned, minutes(60), values_per_answer=30)
    column = found[key("g", Role.CANARY, None)]
    assert column[:30] == [1.0] * 30
    assert all(isinstance(v, Missing) and v.kind is MissingKind.UNREACHABLE for v in column[30:])
    assert ranges.stats.unavailable_chunks == 1
    assert ranges.stats.failures


def _answer(body: object, status: int = 200) -> list[Any]:
    return range_series_from_answer("q", status, "OK", json.dumps(body).encode())


def test_range_answers_are_read_strictly() -> None:
    series = _answer(
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": {"a": "1"}, "values": [[1768435200, "1.5"], [1768435260.5, "NaN"]]}
                ],
            },
        }
    )
    assert series[0].labels == {"a": "1"}
    assert series[0].points[1768435200000] == 1.5
    assert math.isnan(series[0].points[1768435260500])
    for broken in (
        {"status": "success", "data": {"resultType": "vector", "result": []}},
        {"status": "success", "data": {"resultType": "matrix", "result": [5]}},
        {"status": "success", "data": {"resultType": "matrix", "result": [{"values": [[1, 2]]}]}},
        {"status": "success", "data": {"resultType": "matrix", "result": [{"values": 7}]}},
    ):
        with pytest.raises(MetricsUnavailable):
            _answer(broken)
    with pytest.raises(QueryError):
        _answer({"status": "error", "errorType": "bad_data", "error": "x"}, status=400)
    with pytest.raises(QueryError, match="native histogram"):
        _answer(
            {
                "status": "success",
                "data": {
                    "resultType": "matrix",
                    "result": [{"metric": {}, "histograms": [[1, {}]]}],
                },
            }
        )
