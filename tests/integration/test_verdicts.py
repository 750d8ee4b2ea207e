"""The verdict API's answers against the real Prometheus (the fixture histories): the verdicts
the histories call for, and what a thousand callers cost: the same requests to Prometheus as
one tick of the scheduler over the same gates."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from canarygate.api import parse_gate
from canarygate.api.converting import to_gate_spec
from canarygate.core import GateState, plan_queries
from canarygate.core.judging import Judgement
from canarygate.evaluating import Connection, evaluate_specs
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.operator.runtime import Runtime, RuntimeSettings
from canarygate.operator.verdicts import Verdicts, VerdictSettings
from lab.gates import error_rate_guardrail, gate
from lab.histories import FIXTURE_NOW
from lab.prometheus import RunningPrometheus

pytestmark = pytest.mark.integration

SHARED = ("healthy", "checkout", "latency-ok")


class _NoWrites:
    """The scheduler is not run here: nothing may be written."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the verdict API called {name}")


def judged(name: str, *journeys: str, app: str = "steady") -> dict[str, Any]:
    document = gate(*journeys, guardrails=[error_rate_guardrail(app)])
    document["metadata"] = {
        "name": name,
        "namespace": "it",
        "uid": f"uid-{name}",
        "generation": 1,
        "resourceVersion": "1",
    }
    document["spec"]["canary"]["traffic"] = {"provider": "external"}
    document["status"] = {"phase": "Progressing", "weight": 0, "traffic": {"provider": "external"}}
    return document


def service(prometheus: RunningPrometheus, *documents: dict[str, Any]) -> Verdicts:
    runtime = Runtime(
        _NoWrites(),
        RuntimeSettings(
            connection=Connection(fallback_address=prometheus.url), clock=lambda: FIXTURE_NOW
        ),
    )
    for document in documents:
        runtime.remember(document)
    runtime.synced.set()
    return Verdicts(runtime, VerdictSettings(batch_window_seconds=0.2))


async def answer(verdicts: Verdicts, name: str, weight: int, caller: str = "c") -> Any:
    return await verdicts.answer("it", name, weight, caller=caller, via="api")


def requests(verdicts: Verdicts) -> int:
    return sum(client.stats.requests for client in verdicts.runtime.pool.clients)


def test_the_histories_give_their_verdicts(prometheus: RunningPrometheus) -> None:
    async def run() -> dict[str, Judgement]:
        verdicts = service(
            prometheus,
            judged("good", *SHARED),
            judged("broken-canary", *SHARED, app="broken"),
            judged("red-fleet", "fastburn"),
            judged("silent", "gap"),
        )
        try:
            names = ("good", "broken-canary", "red-fleet", "silent")
            found = await asyncio.gather(*(answer(verdicts, n, 25) for n in names))
            return {n: a.judgement for n, a in zip(names, found, strict=True)}
        finally:
            await verdicts.close()
            await verdicts.runtime.pool.aclose()

    assert asyncio.run(run()) == {
        "good": Judgement.PASS,
        "broken-canary": Judgement.FAIL,  # its guardrail: 5 % errors against 0.1 %
        "red-fleet": Judgement.INCONCLUSIVE,  # frozen, not failed: the canary is not at fault
        "silent": Judgement.INCONCLUSIVE,  # stale data is silence, never a pass
    }


def test_prometheus_down_is_inconclusive_never_a_pass() -> None:
    async def run() -> Any:
        document = judged("good", *SHARED)
        document["spec"]["prometheus"] = {"address": "http://127.0.0.1:9", "timeout": "1s"}
        runtime = Runtime(_NoWrites(), RuntimeSettings(clock=lambda: FIXTURE_NOW))
        runtime.remember(document)
        runtime.synced.set()
        verdicts = Verdicts(runtime)
        try:
            return await answer(verdicts, "good", 10)
        finally:
            await verdicts.close()
            await runtime.pool.aclose()

    found = asyncio.run(run())
    assert found.judgement is Judgement.INCONCLUSIVE
    assert found.decision.health == "unknown"


def test_a_thousand_callers_cost_what_one_tick_costs(prometheus: RunningPrometheus) -> None:
    """100 gates on the same journeys (each its own canary guardrail), 1,000 callers asking at
    once (ten per gate): the requests sent are those of one scheduler tick over the 100 gates,
    and the next round of polls, answered from those evaluations, sends none."""
    documents = [judged(f"gate-{i}", *SHARED) for i in range(100)]

    async def one_tick() -> int:
        specs = [to_gate_spec(parse_gate(d)) for d in documents]
        async with PrometheusClient(PrometheusConfig(address=prometheus.url)) as client:
            report = await evaluate_specs(
                [(spec, GateState(weight=25)) for spec in specs],
                client,
                FIXTURE_NOW,
                planned=[plan_queries(spec) for spec in specs],
            )
            return report.http_requests

    async def polled() -> tuple[int, int, set[Judgement]]:
        verdicts = service(prometheus, *documents)
        try:
            asked = [
                answer(verdicts, f"gate-{i % 100}", 25, caller=f"rollout-{i}") for i in range(1000)
            ]
            found = await asyncio.gather(*asked)
            first = requests(verdicts)
            again = await asyncio.gather(*(answer(verdicts, f"gate-{i}", 25) for i in range(100)))
            assert {a.source for a in again} == {"request"}
            return first, requests(verdicts) - first, {a.judgement for a in found}
        finally:
            await verdicts.close()
            await verdicts.runtime.pool.aclose()

    tick = asyncio.run(one_tick())
    first, second, judgements = asyncio.run(polled())
    assert judgements == {Judgement.PASS}
    assert first == tick, f"1,000 callers sent {first} requests, one tick {tick}"
    assert second == 0
