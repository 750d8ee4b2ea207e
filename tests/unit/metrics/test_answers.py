"""Malformed Prometheus answers: each is a MetricsError (callers turn it into "missing"),
never a traceback, and never a value."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from canarygate.core import MetricsError, MetricsUnavailable, NoDataError, QueryError
from canarygate.metrics import PrometheusClient, PrometheusConfig

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
TS = AT.timestamp()


def vector_of(*items: object) -> dict[str, object]:
    return {"status": "success", "data": {"resultType": "vector", "result": list(items)}}


def answer(data: object) -> dict[str, object]:
    return {"status": "success", "data": data}


async def ask(body: bytes, status: int = 200) -> float:
    config = PrometheusConfig(address="http://prom:9090", retries=0)
    transport = httpx.MockTransport(lambda _: httpx.Response(status, content=body))
    async with PrometheusClient(config, transport=transport) as prom:
        return await prom.query("x", AT)


MALFORMED: dict[str, object] = {
    "items-not-objects": vector_of(1, 2),
    "item-null": vector_of(None),
    "metric-text": vector_of({"metric": "abc", "value": [TS, "1"]}),
    "metric-list": vector_of({"metric": ["a"], "value": [TS, "1"]}),
    "label-value-number": vector_of({"metric": {"pod": 1}, "value": [TS, "1"]}),
    "value-text": vector_of({"metric": {}, "value": "5"}),
    "value-missing": vector_of({"metric": {}}),
    "value-short": vector_of({"metric": {}, "value": [TS]}),
    "value-long": vector_of({"metric": {}, "value": [TS, "1", "2"]}),
    "value-object": vector_of({"metric": {}, "value": {"a": 1}}),
    "value-not-numeric": vector_of({"metric": {}, "value": [TS, "abc"]}),
    "value-underscored": vector_of({"metric": {}, "value": [TS, "1_000"]}),
    "value-boolean": vector_of({"metric": {}, "value": [TS, True]}),
    "value-null": vector_of({"metric": {}, "value": [TS, None]}),
    "value-bare-number": vector_of({"metric": {}, "value": [TS, 5]}),
    "timestamp-boolean": vector_of({"metric": {}, "value": [True, "1"]}),
    "timestamp-text": vector_of({"metric": {}, "value": ["now", "1"]}),
    "result-object": answer({"resultType": "vector", "result": {}}),
    "result-missing": answer({"resultType": "vector"}),
    "scalar-text": answer({"resultType": "scalar", "result": "5"}),
    "scalar-short": answer({"resultType": "scalar", "result": [TS]}),
    "result-type-unknown": answer({"resultType": "histogram", "result": []}),
    "result-type-missing": answer({"result": []}),
    "data-missing": {"status": "success"},
    "data-list": answer([]),
    "data-text": answer("odd"),
    "status-missing": {"data": {"resultType": "vector", "result": []}},
    "status-odd": {"status": "maybe", "data": {"resultType": "vector", "result": []}},
    "top-level-list": [],
    "top-level-null": None,
    "top-level-text": "success",
    "top-level-number": 42,
}


@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_malformed_answer_is_unavailable_never_a_traceback(body: object) -> None:
    with pytest.raises(MetricsUnavailable, match=r"malformed|not JSON"):
        await ask(json.dumps(body).encode())


RAW: dict[str, bytes] = {
    "not-json": b"<html>proxy</html>",
    "empty": b"",
    "invalid-utf8": b'{"status": "\xff\xfe"}',
    "nan-literal": b'{"status": "success", "data": {"resultType": "vector", "result": '
    b'[{"metric": {}, "value": [NaN, "1"]}]}}',
    "timestamp-1e999": b'{"status": "success", "data": {"resultType": "vector", "result": '
    b'[{"metric": {}, "value": [1e999, "1"]}]}}',
    "integer-of-5000-digits": b'{"status": "success", "data": {"resultType": "vector", '
    b'"result": [{"metric": {}, "value": [' + b"9" * 5000 + b', "1"]}]}}',
    "deeply-nested": b"[" * 200_000 + b"]" * 200_000,
}


@pytest.mark.parametrize("body", RAW.values(), ids=RAW.keys())
async def test_an_answer_that_is_not_strict_json_is_unavailable(body: bytes) -> None:
    with pytest.raises(MetricsUnavailable):
        await ask(body)


@pytest.mark.parametrize(
    "value", ["1e999", "-1e999", "9" * 5000], ids=["1e999", "-1e999", "5000-digits"]
)
async def test_a_huge_value_is_an_infinity_so_no_data(value: str) -> None:
    body = vector_of({"metric": {}, "value": [TS, value]})
    with pytest.raises(NoDataError, match="infinity"):
        await ask(json.dumps(body).encode())


@pytest.mark.parametrize("kind", ["matrix", "string"])
async def test_a_matrix_or_string_result_is_a_query_error(kind: str) -> None:
    body = answer({"resultType": kind, "result": []})
    with pytest.raises(QueryError, match=f"{kind} result"):
        await ask(json.dumps(body).encode())


async def test_a_native_histogram_sample_is_a_query_error() -> None:
    sample = {"metric": {}, "histogram": [TS, {"count": "3", "sum": "1", "buckets": []}]}
    with pytest.raises(QueryError, match="histogram"):
        await ask(json.dumps(vector_of(sample)).encode())


async def test_status_error_with_http_200_reports_the_bodys_error() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "parse error at char 4"}
    with pytest.raises(QueryError, match="bad_data: parse error at char 4") as raised:
        await ask(json.dumps(body).encode())
    assert "OK" not in str(raised.value)


async def test_status_error_for_an_overloaded_prometheus_is_unavailable() -> None:
    body = {"status": "error", "errorType": "timeout", "error": "query timed out"}
    with pytest.raises(MetricsUnavailable, match="timeout: query timed out"):
        await ask(json.dumps(body).encode())


async def test_an_error_body_is_shown_on_one_short_line() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": "line one\nline two" + "x" * 5000}
    with pytest.raises(QueryError) as raised:
        await ask(json.dumps(body).encode(), status=400)
    message = str(raised.value)
    assert "\n" not in message
    assert "line one line two" in message
    assert len(message) < 600


async def test_every_malformed_answer_is_a_metrics_error() -> None:
    """The contract callers rely on, over every case above at once."""
    for body in [*(json.dumps(b).encode() for b in MALFORMED.values()), *RAW.values()]:
        with pytest.raises(MetricsError):
            await ask(body)
