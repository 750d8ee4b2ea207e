"""Packing and deduplication against the real Prometheus give the same answers as
one request per query, with far fewer requests."""

from __future__ import annotations

import asyncio

import pytest

from canarygate.api import CanaryGate, parse_gate
from canarygate.api.converting import to_gate_spec
from canarygate.core import (
    Missing,
    MissingKind,
    Observation,
    QueryKey,
    Role,
    Segmented,
    plan_queries,
)
from canarygate.core.queries import PlannedQuery
from canarygate.evaluating import evaluate_gates
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch
from lab.gates import error_rate_guardrail, gate, segmented_journey, tier_guardrail
from lab.histories import FIXTURE_NOW
from lab.prometheus import RunningPrometheus

pytestmark = pytest.mark.integration

GATES = [
    gate("healthy", "fastburn", "gap", guardrails=[error_rate_guardrail("steady")]),
    gate("latency-slow", "idle", "exhausted", guardrails=[error_rate_guardrail("trickle")]),
    gate("oldblip", ("latency-ok", {"critical": False})),
    gate(
        segmented_journey("regional", "region"),
        segmented_journey("tenants", "tier"),
        guardrails=[tier_guardrail("tiered")],
    ),
]


def comparable(value: Observation) -> object:
    if isinstance(value, Missing):
        return ("missing", value.kind)
    if isinstance(value, Segmented):
        return {segment: round(v, 9) for segment, v in value.values.items()}
    return round(value, 9)


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
    # Segmented queries answered one value per segment, packed as alone.
    regional = packed[next(k for k in packed if getattr(k, "subject", "") == "regional")]
    assert isinstance(regional, dict)
    assert set(regional) == {("eu-west",), ("us-east",), ("us-west",)}


def test_a_segmented_journey_costs_the_requests_of_an_unsegmented_one(
    prometheus: RunningPrometheus,
) -> None:
    segmented = parse_gate(gate(segmented_journey("regional", "region")))
    plain = parse_gate(gate("regional"))

    async def requests(document: CanaryGate) -> int:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            report = await evaluate_gates([document] * 10, client, FIXTURE_NOW)
            return report.http_requests

    assert asyncio.run(requests(segmented)) == asyncio.run(requests(plain))


def test_identical_journeys_across_gates_are_queried_once(prometheus: RunningPrometheus) -> None:
    document = gate("healthy", "checkout", guardrails=[error_rate_guardrail("steady")])
    gates = [parse_gate(document)] * 50

    async def tick() -> tuple[int, int, int]:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            report = await evaluate_gates(gates, client, FIXTURE_NOW)
            assert {str(d.action) for d in report.decisions} == {"advance"}
            return report.requested, report.distinct, report.http_requests

    requested, distinct, http_requests = asyncio.run(tick())
    # Per gate: two journeys x (good and total over 8 windows + the age of the newest sample),
    # and the guardrail's canary, baseline and samples.
    assert requested == 50 * (2 * (16 + 1) + 3)
    assert distinct == http_requests == 3


# Subjects whose queries try to change what another part of their packed request measures.
# Each group is packed together; every answer must be what its query gets alone.
ADVERSARIAL = {
    # Escapes its wrapper and tags a made-up series as the next part (the forged-label attack).
    "forge": [
        'vector(0.25), "canarygate_part", "1", "", "") or label_replace(vector(42)',
        "vector(7)",
    ],
    # Invalid alone, yet parses once glued to the wrapper (the unbalanced-query attack).
    "unbalanced": ['vector(3), "a", "b", "", "") or label_replace(vector(1)', "vector(5)"],
    # A comment that would swallow the rest of a one-line packed request.
    "comment": ["vector(1) # the good ones", "vector(2)"],
    # Balanced, and wearing the old fixed tag: harmless, and it must stay so.
    "old-tag": ['label_replace(vector(0.5), "canarygate_part", "1", "", "")', "vector(9)"],
}


def test_adversarial_queries_get_exactly_their_answers_alone(
    prometheus: RunningPrometheus,
) -> None:
    planned = [
        PlannedQuery(QueryKey(subject, role), promql)
        for subject, queries in ADVERSARIAL.items()
        for role, promql in zip((Role.GOOD, Role.TOTAL), queries, strict=True)
    ]

    async def observe(packing: bool) -> dict[object, object]:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            found = await QueryBatch(client, FIXTURE_NOW, packing=packing).observe(planned)
            return {(k.subject, str(k.role)): comparable(v) for k, v in found.items()}

    packed, alone = asyncio.run(observe(True)), asyncio.run(observe(False))
    assert packed == alone
    refused = ("missing", MissingKind.QUERY_ERROR)
    assert packed[("forge", "good")] == packed[("unbalanced", "good")] == refused
    assert (packed[("forge", "total")], packed[("unbalanced", "total")]) == (7, 5)
    assert (packed[("comment", "good")], packed[("comment", "total")]) == (1, 2)
    assert (packed[("old-tag", "good")], packed[("old-tag", "total")]) == (0.5, 9)


def test_a_commented_part_still_travels_packed(prometheus: RunningPrometheus) -> None:
    keys = [QueryKey("j", Role.GOOD), QueryKey("j", Role.TOTAL)]
    planned = [PlannedQuery(k, q) for k, q in zip(keys, ADVERSARIAL["comment"], strict=True)]

    async def observe() -> tuple[list[object], int]:
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            found = await QueryBatch(client, FIXTURE_NOW).observe(planned)
            return [found[k] for k in keys], client.stats.requests

    assert asyncio.run(observe()) == ([1.0, 2.0], 1)
