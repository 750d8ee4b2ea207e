"""Packing several queries into one request, and splitting the answer back."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx

from canarygate.core import Missing, MissingKind, QueryKey, Role
from canarygate.core.queries import PlannedQuery
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch, Series
from canarygate.metrics.batching import PART_LABEL, pack, unpack

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_pack_tags_every_part() -> None:
    packed = pack(["sum(a)", "sum(b)"])
    assert packed == (
        f'label_replace(sum(a), "{PART_LABEL}", "0", "", "") or '
        f'label_replace(sum(b), "{PART_LABEL}", "1", "", "")'
    )


def test_unpack_keeps_each_parts_own_verdict() -> None:
    series = [
        Series({PART_LABEL: "0"}, 5.0),
        Series({PART_LABEL: "2", "pod": "a"}, 1.0),
        Series({PART_LABEL: "2", "pod": "b"}, 2.0),
        Series({PART_LABEL: "3"}, float("nan")),
    ]
    samples = unpack(["q0", "q1", "q2", "q3"], series)
    assert samples[0] == 5.0
    assert isinstance(samples[1], Missing)
    assert samples[1].kind is MissingKind.NO_DATA
    assert isinstance(samples[2], Missing)
    assert samples[2].kind is MissingKind.QUERY_ERROR
    assert "2 series" in samples[2].detail
    assert isinstance(samples[3], Missing)
    assert samples[3].kind is MissingKind.NO_DATA


async def test_a_refused_packed_query_falls_back_to_one_request_per_part() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.content.decode())["query"][0]
        sent.append(query)
        if " or " in query:
            error = {"status": "error", "errorType": "bad_data", "error": "expected vector"}
            return httpx.Response(400, json=error)
        if query == "scalar(x)":
            return httpx.Response(
                200,
                json={"status": "success", "data": {"resultType": "scalar", "result": [0, "3"]}},
            )
        return httpx.Response(400, json={"status": "error", "errorType": "bad_data", "error": "no"})

    config = PrometheusConfig(address="http://prom", backoff=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as client:
        batch = QueryBatch(client, AT)
        keys = [QueryKey("g", Role.CANARY), QueryKey("g", Role.BASELINE)]
        observed = await batch.observe(
            [PlannedQuery(keys[0], "scalar(x)"), PlannedQuery(keys[1], "sum(")]
        )
    assert observed[keys[0]] == 3.0
    assert isinstance(observed[keys[1]], Missing)
    assert observed[keys[1]].kind is MissingKind.QUERY_ERROR
    assert len(sent) == 3
    assert batch.distinct == 3


async def test_an_unreachable_packed_query_marks_every_part_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    config = PrometheusConfig(address="http://prom", retries=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as client:
        keys = [QueryKey("j", Role.GOOD), QueryKey("j", Role.TOTAL)]
        observed = await QueryBatch(client, AT).observe(
            [PlannedQuery(keys[0], "a"), PlannedQuery(keys[1], "b")]
        )
    assert all(
        isinstance(v, Missing) and v.kind is MissingKind.UNREACHABLE for v in observed.values()
    )
