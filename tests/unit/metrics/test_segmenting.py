"""Segmented queries (`segmentBy`): one value per segment, packed and deduplicated like any
other query, refused when they answer more segments than the cap or two series of one
segment; an unsegmented query still needs exactly one series."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from canarygate.core import (
    Duration,
    Missing,
    MissingKind,
    NoDataError,
    Observation,
    QueryError,
    QueryKey,
    Role,
    Segmentation,
    Segmented,
)
from canarygate.core.queries import PlannedQuery
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch, Series
from canarygate.metrics.packing import unpack
from canarygate.metrics.segmenting import segmented_values

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
BY_REGION = Segmentation(("region",), max_segments=3)
LABEL = "canarygate_part_0123456789abcdef"


def regions(**values: float) -> list[Series]:
    return [Series({"region": name.replace("_", "-")}, value) for name, value in values.items()]


def test_one_value_per_segment() -> None:
    found = segmented_values("q", regions(eu_west=2.0, us_east=3.0), BY_REGION)
    assert found == Segmented(("region",), {("eu-west",): 2.0, ("us-east",): 3.0})


def test_a_series_without_the_label_is_its_own_segment() -> None:
    found = segmented_values("q", [Series({}, 1.0), *regions(eu_west=2.0)], BY_REGION)
    assert found.values == {("",): 1.0, ("eu-west",): 2.0}


def test_nan_is_kept_for_the_core_to_judge() -> None:
    found = segmented_values("q", regions(eu_west=float("nan")), BY_REGION)
    assert found.values[("eu-west",)] != found.values[("eu-west",)]


def test_no_series_is_no_data() -> None:
    with pytest.raises(NoDataError):
        segmented_values("q", [], BY_REGION)


def test_two_series_of_one_segment_is_a_query_to_fix() -> None:
    series = [Series({"region": "eu", "pod": "a"}, 1.0), Series({"region": "eu", "pod": "b"}, 2.0)]
    with pytest.raises(QueryError, match=r"several series for region eu.*sum by \(region\)"):
        segmented_values("q", series, BY_REGION)


def test_more_segments_than_the_cap_is_refused_clearly() -> None:
    series = regions(a=1.0, b=1.0, c=1.0, d=1.0)
    with pytest.raises(QueryError, match="4 segments by region, more than maxSegments 3"):
        segmented_values("q", series, BY_REGION)


def test_unpack_gives_each_part_its_shape() -> None:
    series = [
        Series({LABEL: "0", "region": "eu"}, 1.0),
        Series({LABEL: "0", "region": "us"}, 2.0),
        Series({LABEL: "1"}, 5.0),
        Series({LABEL: "2", "region": "eu"}, 1.0),
        Series({LABEL: "2", "region": "us"}, 2.0),
    ]
    found = unpack(["a", "b", "c"], LABEL, series, [BY_REGION, None, None])
    assert found[0] == Segmented(("region",), {("eu",): 1.0, ("us",): 2.0})
    assert found[1] == 5.0
    # Unsegmented, several series remain an error: "aggregate it".
    assert isinstance(found[2], Missing)
    assert found[2].kind is MissingKind.QUERY_ERROR
    assert "2 series" in found[2].detail


class RegionalPrometheus:
    """Answers every query (alone or packed) with one series per region, as `sum by (region)`
    would; counts the requests."""

    def __init__(self, per_region: dict[str, str]) -> None:
        self.per_region = per_region
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        self.sent.append(query)
        parts = re.findall(r'label_replace\(\n(.*?)\n, "(\w+)", "(\d+)", "", ""\)', query, re.S)
        tags = [{label: index} for _, label, index in parts] or [{}]
        result = [
            {"metric": {"region": region, **tag}, "value": [0, value]}
            for tag in tags
            for region, value in self.per_region.items()
        ]
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return httpx.Response(200, json=body)


def journey_plan(name: str, segmentation: Segmentation | None) -> list[PlannedQuery]:
    windows = [Duration(m * 60_000) for m in (5, 60, 360)]
    return [
        PlannedQuery(QueryKey(name, role, w), f"{role}[{w}]", segmentation)
        for w in windows
        for role in (Role.GOOD, Role.TOTAL)
    ]


async def observe(
    plans: list[list[PlannedQuery]], prometheus: RegionalPrometheus
) -> tuple[QueryBatch, dict[QueryKey, Observation]]:
    """Every plan in one batch (one tick); the batch and what the last plan observed."""
    config = PrometheusConfig(address="http://prom", backoff=0)
    found: dict[QueryKey, Observation] = {}
    async with PrometheusClient(config, transport=httpx.MockTransport(prometheus)) as client:
        batch = QueryBatch(client, AT)
        for plan in plans:
            found = await batch.observe(plan)
            assert len(found) == len(plan)
    return batch, found


async def test_a_segmented_journey_costs_one_request_like_an_unsegmented_one() -> None:
    prometheus = RegionalPrometheus({"eu": "1", "us": "2"})
    batch, found = await observe([journey_plan("checkout", BY_REGION)], prometheus)
    assert len(prometheus.sent) == 1
    assert batch.distinct == 1
    assert all(v == Segmented(("region",), {("eu",): 1.0, ("us",): 2.0}) for v in found.values())


async def test_identical_segmented_journeys_are_asked_once() -> None:
    prometheus = RegionalPrometheus({"eu": "1"})
    plans = [journey_plan("checkout", BY_REGION), journey_plan("checkout", BY_REGION)]
    await observe(plans, prometheus)
    assert len(prometheus.sent) == 1


async def test_the_same_text_asked_segmented_and_unsegmented_is_two_asks() -> None:
    """Unsegmented, the same answer is an error (two series); segmented it is two values."""
    prometheus = RegionalPrometheus({"eu": "1", "us": "2"})
    plans = [journey_plan("checkout", BY_REGION), journey_plan("checkout", None)]
    _, found = await observe(plans, prometheus)
    assert len(prometheus.sent) == 2
    assert all(isinstance(v, Missing) and v.kind is MissingKind.QUERY_ERROR for v in found.values())


async def test_too_many_segments_is_the_error_outcome_for_each_query() -> None:
    prometheus = RegionalPrometheus(dict.fromkeys(("a", "b", "c", "d"), "1"))
    _, found = await observe([journey_plan("checkout", BY_REGION)], prometheus)
    for value in found.values():
        assert isinstance(value, Missing)
        assert value.kind is MissingKind.QUERY_ERROR
        assert "more than maxSegments 3" in value.detail
