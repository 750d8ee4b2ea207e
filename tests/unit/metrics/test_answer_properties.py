"""Property: whatever Prometheus answers, through the real client and the real per-tick batch
(packing included), no exception escapes, and silence or invalid evidence never advances,
promotes or rolls back a canary.

The transport is httpx.MockTransport: each query of the gate is answered with a kind drawn up
front (a valid healthy value, or one of many ways to be silent, wrong or malformed), and a
packed request may fail as a whole (5xx, 400, a 200 with status error, not JSON...).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canarygate.core import (
    Action,
    CanarySpec,
    GateSpec,
    GateState,
    GuardrailSpec,
    JourneySpec,
    RiskLevel,
    RiskSpec,
    SliQueries,
    plan_queries,
)
from canarygate.evaluating import evaluate_specs
from canarygate.metrics import PrometheusClient, PrometheusConfig

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
SPEC = GateSpec(
    journeys=(JourneySpec("checkout", 99.9, SliQueries("good[{{window}}]", "total[{{window}}]")),),
    canary=CanarySpec(
        steps=(5, 10, 25, 50, 100),
        guardrails=(
            GuardrailSpec(
                "errors", "canary_errors", max=0.01, samples="canary_requests", min_samples=10
            ),
        ),
    ),
    risk=RiskSpec(RiskLevel.LOW),
)
QUERIES = [q.promql for q in plan_queries(SPEC)]
HEALTHY = {
    "good": "999.99",
    "total": "1000",
    "canary_errors": "0.001",
    "canary_requests": "500",
    "time()": "15",  # the journey's freshness: its newest sample is 15 s old
}
PACKED_PART = re.compile(r'label_replace\(\n(.*?)\n, "(canarygate_part_[0-9a-f]+)", "(\d+)"', re.S)

# Per query: how its part of an answer looks. Only "valid" is usable evidence.
PART_KINDS = ["valid", "valid", "valid", "empty", "nan", "inf", "negative", "text", "bool",
              "short-pair", "two-series", "null-metric", "inflated"]  # fmt: skip
# Per request: answered part by part, or failed as a whole.
REQUEST_KINDS = [
    *["parts"] * 12,
    *["500", "503", "400", "200-error", "not-json", "truncated"],
    *["result-not-list", "items-not-objects", "matrix", "no-data"],
]


def _healthy_value(query: str) -> str:
    return next(value for prefix, value in HEALTHY.items() if query.startswith(prefix))


def _series(query: str, kind: str, labels: dict[str, str]) -> list[Any]:
    value: Any = _healthy_value(query)
    if kind == "empty":
        return []
    value = {
        "nan": "NaN",
        "inf": "+Inf",
        "negative": "-5",
        "text": "abc",
        "bool": True,
        "inflated": "2000" if query.startswith("good") else value,
    }.get(kind, value)
    item: dict[str, Any] = {"metric": labels, "value": [1768478400, value]}
    if kind == "short-pair":
        item["value"] = [1768478400]
    if kind == "null-metric":
        item["metric"] = None
    if kind == "two-series":
        return [item, {"metric": {**labels, "x": "1"}, "value": [1768478400, value]}]
    return [item]


def _whole(kind: str) -> httpx.Response:
    bodies: dict[str, tuple[int, Any]] = {
        "500": (500, {"status": "error", "error": "boom"}),
        "503": (503, "unavailable"),
        "400": (400, {"status": "error", "errorType": "bad_data", "error": "parse error"}),
        "200-error": (200, {"status": "error", "errorType": "execution", "error": "oops"}),
        "not-json": (200, "<html>proxy</html>"),
        "truncated": (200, '{"status": "success", "data": {"resultType": "vec'),
        "result-not-list": (200, {"status": "success", "data": {"resultType": "vector",
                                                                 "result": 5}}),
        "items-not-objects": (200, {"status": "success", "data": {"resultType": "vector",
                                                                   "result": [1, 2]}}),
        "matrix": (200, {"status": "success", "data": {"resultType": "matrix", "result": []}}),
        "no-data": (200, {"status": "success"}),
    }  # fmt: skip
    status, body = bodies[kind]
    text = body if isinstance(body, str) else json.dumps(body)
    return httpx.Response(status, text=text, headers={"Content-Type": "application/json"})


def _vector(result: list[Any]) -> httpx.Response:
    body = {"status": "success", "data": {"resultType": "vector", "result": result}}
    return httpx.Response(200, json=body)


def _group(query: str) -> str:
    """Journey queries carry a range; the guardrail's do not (see SPEC)."""
    return "journey" if "[" in query else "guardrail"


def _handler(parts: dict[str, str], requests: dict[str, str]) -> Any:
    def handle(request: httpx.Request) -> httpx.Response:
        form = dict(httpx.QueryParams(request.content.decode()))
        promql = form["query"]
        packed = PACKED_PART.findall(promql)
        queries = [q for q, _, _ in packed] or [promql]
        # A failing server fails a group's packed request and its one-by-one retries alike.
        kind = requests[_group(queries[0])]
        if kind != "parts":
            return _whole(kind)
        if not packed:
            return _vector(_series(promql, parts[promql], {}))
        result: list[Any] = []
        for query, label, index in packed:
            result += _series(query, parts[query], {label: index})
        return _vector(result)

    return handle


@st.composite
def part_kinds(draw: st.DrawFn) -> dict[str, str]:
    """Mostly one defect among valid answers (the case a single wrong number could slip
    through), sometimes many."""
    if draw(st.booleans()):
        kinds = draw(st.fixed_dictionaries({q: st.sampled_from(PART_KINDS) for q in QUERIES}))
    else:
        kinds = dict.fromkeys(QUERIES, "valid")
        kinds[draw(st.sampled_from(QUERIES))] = draw(st.sampled_from(PART_KINDS))
    # Only `good` can be inflated above `total`; for the others it is just their value.
    return {q: "valid" if k == "inflated" and not q.startswith("good") else k
            for q, k in kinds.items()}  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=part_kinds(),
    requests=st.fixed_dictionaries(
        {group: st.sampled_from(REQUEST_KINDS) for group in ("journey", "guardrail")}
    ),
    weight=st.sampled_from([0, 5, 25, 50]),
)
def test_no_answer_escapes_and_silence_never_moves_traffic(
    parts: dict[str, str], requests: dict[str, str], weight: int
) -> None:
    config = PrometheusConfig("http://prometheus.test:9090", retries=0, backoff=0.0)

    async def evaluate() -> Any:
        transport = httpx.MockTransport(_handler(parts, requests))
        async with PrometheusClient(config, transport=transport) as client:
            report = await evaluate_specs([(SPEC, GateState(weight=weight))], client, AT)
        return report.decisions[0]

    decision = asyncio.run(evaluate())
    all_valid = all(k == "valid" for k in parts.values()) and all(
        k == "parts" for k in requests.values()
    )
    if all_valid:
        assert decision.action in (Action.ADVANCE, Action.PROMOTE)
        return
    # Nothing here is evidence of a failing canary, so nothing may roll back.
    assert decision.action is not Action.ROLLBACK
    journey_silent = requests["journey"] != "parts" or any(
        parts[q] != "valid" for q in QUERIES if _group(q) == "journey"
    )
    if journey_silent:
        assert decision.action is Action.HOLD
        assert decision.weight_next == weight
    elif weight > 0:
        # The guardrail was silent or invalid: inconclusive holds once there is traffic.
        assert decision.action is Action.HOLD
