"""Packing and deduplication against the real Prometheus give the same answers as
one request per query, with far fewer requests."""

from __future__ import annotations

import asyncio

import pytest

from canarygate.api import parse_gate
from canarygate.api.converting import to_gate_spec
from canarygate.core import Missing, plan_queries
from canarygate.evaluating import evaluate_gates
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch
from lab.gates import error_rate_guardrail, gate
from lab.histories import FIXTURE_NOW
from lab.prometheus import RunningPrometheus

pytestmark = pytest.mark.integration

GATES = [
    gate("healthy", "fastburn", "gap", guardrails=[error_rate_guardrail("steady")]),
    gate("latency-slow", "idle", "exhausted", guardrails=[error_rate_guardrail("trickle")]),
    gate("oldblip", ("latency-ok", {"critical": False})),
]


def comparable(value: float | Missing) -> object:
    return ("missing", value.kind) if isinstance(value, Missing) else round(value, 9)


def test_packed_and_single_requests_observe_the_same_values(prometheus: RunningPrometheus) -> None:
    planned = [q for document in GATES for q in plan_queries(to_gate_spec(parse_gate(document)))]

    async def observe(packing: bool) -> tuple[dict[object, object], int]:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            batch = QueryBatch(client, FIXTURE_NOW, packing=packing)
            found = await batch.observe(planned)
            return {k: comparable(v) for k, v in found.items()}, batch.distinct

    packed, packed_requests = asyncio.run(observe(True))
    single, single_requests = asyncio.run(observe(False))
    assert packed == single
    assert len(packed) == len(planned)
    assert packed_requests * 5 < single_requests


def test_identical_journeys_across_gates_are_queried_once(prometheus: RunningPrometheus) -> None:
    document = gate("healthy", "checkout", guardrails=[error_rate_guardrail("steady")])
    gates = [parse_gate(document)] * 50

    async def tick() -> tuple[int, int, int]:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            report = await evaluate_gates(gates, client, FIXTURE_NOW)
            assert {str(d.action) for d in report.decisions} == {"advance"}
            return report.requested, report.distinct, report.http_requests

    requested, distinct, http_requests = asyncio.run(tick())
    assert requested == 50 * (2 * 16 + 3)
    assert distinct == http_requests == 3
