"""Evaluate gates once: plan queries, fetch them in one deduplicated batch, decide.

This is the imperative shell around `core.decide`, shared by the CLI, the operator and the
benchmark. It never raises for a Prometheus problem: silence becomes missing observations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from canarygate.api.converting import to_gate_spec, to_gate_state
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision
from canarygate.core.queries import plan_queries
from canarygate.metrics.batching import QueryBatch
from canarygate.metrics.prometheus import PrometheusClient


@dataclass(frozen=True)
class TickReport:
    """What one tick cost: queries the gates asked for and distinct queries actually sent."""

    decisions: tuple[Decision, ...]
    requested: int
    distinct: int
    http_requests: int


async def evaluate_gates(
    gates: Sequence[CanaryGate],
    client: PrometheusClient,
    at: datetime,
    *,
    weight: int | None = None,
) -> TickReport:
    """Evaluate every gate at the same instant against one Prometheus, sharing identical queries."""
    batch = QueryBatch(client, at)
    requests_before = client.stats.requests
    specs = [to_gate_spec(gate) for gate in gates]
    observed = await asyncio.gather(*(batch.observe(plan_queries(spec)) for spec in specs))
    decisions = tuple(
        decide(spec, to_gate_state(gate.status, weight=weight), observations, at)
        for gate, spec, observations in zip(gates, specs, observed, strict=True)
    )
    return TickReport(
        decisions=decisions,
        requested=batch.requested,
        distinct=batch.distinct,
        http_requests=client.stats.requests - requests_before,
    )
