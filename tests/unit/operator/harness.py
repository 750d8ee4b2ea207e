"""Drive `Rollouts` against the fake cluster the way the scheduler does, one gate at a time."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from canarygate.core import Decision, QueryKey, Role, Sample, decide, plan_queries
from canarygate.operator.records import GateRecord, record_from
from canarygate.operator.rollouts import Next, Rollouts, RolloutSettings
from canarygate.traffic import ObjectRef

from .fake_cluster import FakeCluster

NS = "shop"
ROUTE = ObjectRef("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", NS, "checkout")
START = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def gate_body(revision: str = "v2", steps: tuple[int, ...] = (10, 50, 100)) -> dict[str, Any]:
    window = "[{{window}}]"
    return {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {"name": "checkout", "namespace": NS},
        "spec": {
            "prometheus": {"address": "http://prometheus:9090"},
            "risk": {"level": "low"},
            "journeys": [
                {
                    "name": "checkout",
                    "objective": 99.9,
                    "sli": {"good": f"good{window}", "total": f"total{window}"},
                }
            ],
            "canary": {
                "revision": revision,
                "traffic": {
                    "provider": "gatewayAPI",
                    "gatewayAPI": {
                        "httpRoute": "checkout",
                        "stableBackend": "checkout-stable",
                        "canaryBackend": "checkout-canary",
                    },
                },
                "steps": list(steps),
                "interval": "1m",
                "guardrails": [
                    {
                        "name": "error-rate",
                        "canary": "canary_errors",
                        "max": 0.01,
                        "samples": "canary_requests",
                        "minSamples": 100,
                    }
                ],
            },
        },
    }


def route_body(stable: int = 100, canary: int = 0) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "checkout", "namespace": NS, "annotations": {"owner": "gitops"}},
        "spec": {
            "parentRefs": [{"name": "public"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": "checkout-stable", "port": 80, "weight": stable},
                        {"name": "checkout-canary", "port": 80, "weight": canary},
                    ]
                }
            ],
        },
    }


def route_weights(fake: FakeCluster) -> tuple[int, int]:
    refs = fake.objects[ROUTE]["spec"]["rules"][0]["backendRefs"]
    return int(refs[0]["weight"]), int(refs[1]["weight"])


def healthy(record: GateRecord) -> dict[QueryKey, Sample]:
    return observations(record, canary_error_ratio=0.001)


def observations(
    record: GateRecord, *, canary_error_ratio: float, error_ratio: float = 0.0001
) -> dict[QueryKey, Sample]:
    assert record.spec is not None
    values: dict[Role, float] = {
        Role.GOOD: 1000.0 * (1 - error_ratio),
        Role.TOTAL: 1000.0,
        Role.CANARY: canary_error_ratio,
        Role.BASELINE: 0.001,
        Role.SAMPLES: 1000.0,
    }
    # Queries of kinds this harness does not know (later features) answer 0.
    return {q.key: values.get(q.key.role, 0.0) for q in plan_queries(record.spec)}


class Harness:
    def __init__(self, fake: FakeCluster, settings: RolloutSettings | None = None) -> None:
        self.fake = fake
        self.settings = settings or RolloutSettings()
        self.now = START
        self.records: dict[tuple[str, str], GateRecord] = {}
        self.rollouts = self._rollouts()

    def _rollouts(self) -> Rollouts:
        return Rollouts(self.fake, self.remember, self.settings, clock=lambda: self.now)

    def remember(self, body: Mapping[str, Any]) -> None:
        record = record_from(body)
        self.records[(record.key.namespace, record.key.name)] = record

    def restart(self) -> None:
        """A new operator process: nothing in memory, everything read again."""
        self.records = {}
        self.rollouts = self._rollouts()

    def record(self, name: str = "checkout") -> GateRecord:
        return record_from(copy.deepcopy(self.fake.gates[(NS, name)]))

    async def process(
        self,
        measure: Any = healthy,
        *,
        name: str = "checkout",
        advance_clock: timedelta = timedelta(minutes=1),
    ) -> tuple[Next, Decision | None]:
        """One scheduler visit: fresh record, a decision if the gate is evaluable, a step."""
        self.now += advance_clock
        record = self.record(name)
        decision = (
            decide(
                record.spec,
                record.state,
                measure(record),
                self.now,
                controls=record.decide_controls,
            )
            if record.evaluable and record.spec is not None
            else None
        )
        return await self.rollouts.process(record, decision), decision

    async def run_until_killed(self, limit: int = 10) -> None:
        """Visit until the fake cluster's crash point kills the operator."""
        for _ in range(limit):
            await self.process()
        raise AssertionError(f"the crash point was not reached in {limit} visits")

    async def run_until(self, done: Any, measure: Any = healthy, limit: int = 20) -> int:
        for visit in range(limit + 1):
            if done(self.fake.status(NS, "checkout")):
                return visit
            await self.process(measure)
        raise AssertionError(f"not done after {limit} visits: {self.fake.status(NS, 'checkout')}")
