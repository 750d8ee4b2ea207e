"""Slow windows answered from earlier readings decide exactly as fresh readings do, on the real
fixture Prometheus: every fixture scenario, evaluated every 30 s along two stretches of its
history, once with the operator's cache of slow windows and once reading every window."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from canarygate.api import parse_gate
from canarygate.api.converting import to_gate_spec
from canarygate.core import Decision, GateSpec, GateState
from canarygate.evaluating import evaluate_specs
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.metrics.window_cache import WindowCache
from lab.gates import error_rate_guardrail, gate
from lab.histories import FIXTURE_NOW, JOURNEYS, LATENCIES
from lab.prometheus import RunningPrometheus

pytestmark = pytest.mark.integration

SCENARIOS = [j.journey for j in JOURNEYS] + [latency.journey for latency in LATENCIES]
NEUTRAL = {"customerNeutral": True, "reversible": True}
# yellowburn's 3d window crosses burn 1 about 9h24m before the fixture's end (its 6h window
# is at burn 4 throughout), turning it from green to yellow: the stretch around that instant
# is where a reading of the 3d window kept for up to 15 minutes could decide otherwise.
STRETCHES = [
    (FIXTURE_NOW - timedelta(hours=9, minutes=45), 80),
    (FIXTURE_NOW - timedelta(minutes=40), 80),
]


def specs() -> list[tuple[GateSpec, GateState]]:
    found = []
    for name in SCENARIOS:
        for risk, factors in (("low", {}), ("low", NEUTRAL), ("high", {})):
            document = gate(name, risk=risk, factors=factors)
            found.append((to_gate_spec(parse_gate(document)), GateState(weight=25)))
    guarded = gate("yellowburn", "exhausted", guardrails=[error_rate_guardrail("steady")])
    found.append((to_gate_spec(parse_gate(guarded)), GateState(weight=25)))
    return found


def verdict(decision: Decision) -> tuple[object, ...]:
    """Everything a decision decides: not the numbers it reports (the slow windows' numbers
    come from a reading at most a 288th of their window old)."""
    return (
        decision.action,
        decision.health,
        decision.mode,
        decision.weight_next,
        tuple((j.name, j.health, j.complete) for j in decision.journeys),
        tuple(reason.code for reason in decision.reasons),
        decision.state,
    )


async def walk(
    url: str, gates: Sequence[tuple[GateSpec, GateState]], start: datetime, ticks: int
) -> tuple[list[list[tuple[object, ...]]], list[list[tuple[object, ...]]], int, int]:
    cache = WindowCache(clock=lambda: 0.0)  # only the evaluation instant moves
    cached = reread = 0
    with_cache: list[list[tuple[object, ...]]] = []
    without: list[list[tuple[object, ...]]] = []
    async with PrometheusClient(PrometheusConfig(address=url, timeout=30)) as client:
        for step in range(ticks):
            at = start + timedelta(seconds=30 * step)
            kept = await evaluate_specs(gates, client, at, cache=cache)
            fresh = await evaluate_specs(gates, client, at)
            cached, reread = cached + kept.cached, reread + kept.reread
            with_cache.append([verdict(d) for d in kept.decisions])
            without.append([verdict(d) for d in fresh.decisions])
    return with_cache, without, cached, reread


@pytest.mark.parametrize(("start", "ticks"), STRETCHES, ids=["yellowburn-turns", "last-40m"])
def test_decisions_with_kept_slow_windows_equal_fresh_ones(
    prometheus: RunningPrometheus, start: datetime, ticks: int
) -> None:
    gates = specs()
    with_cache, without, cached, reread = asyncio.run(walk(prometheus.url, gates, start, ticks))
    for step, (kept, fresh) in enumerate(zip(with_cache, without, strict=True)):
        at = start + timedelta(seconds=30 * step)
        for index, (one, other) in enumerate(zip(kept, fresh, strict=True)):
            assert one == other, f"gate {index} at {at.isoformat()}"
    assert cached > len(gates) * ticks  # most slow windows came from readings
    assert reread > 0  # and some could not: the bound sent them to Prometheus again


def test_the_stretch_holds_the_turn_the_cache_must_not_hide(prometheus: RunningPrometheus) -> None:
    """The first stretch is worth walking: yellowburn (low risk) goes from advance to hold in
    it, on its 3d window alone."""
    gates = [(to_gate_spec(parse_gate(gate("yellowburn"))), GateState(weight=25))]
    start, ticks = STRETCHES[0]
    _, without, _, _ = asyncio.run(walk(prometheus.url, gates, start, ticks))
    actions = [str(decisions[0][0]) for decisions in without]
    assert actions[0] == "advance"
    assert actions[-1] == "hold"
