"""One live rollout per traffic provider besides the Gateway API (test_operator_rollout.py):
every version of the live routing objects the API server stored is checked, not just the end.

- istio: a VirtualService (networking.istio.io/v1) steps through and is promoted;
- nginx: the canary Ingress's nginx.ingress.kubernetes.io/canary-weight steps, and a canary
  serving errors is rolled back to 0 (the canary Ingress stays a canary, the stable Ingress is
  never touched);

The replicas provider (two Deployments) has its own module, test_operator_replicas.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab import scenarios as sc
from tests.e2e.operator_fixtures import Scenario, history_steps, sequence_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STABLE, CANARY = "web-stable", "web-canary"
MANAGED_LABEL = "canarygate.io/managed-weights"


def create_gate(scenario: Scenario, traffic: dict[str, Any], **settings: Any) -> None:
    scenario.create(
        sc.gate("web", scenario.namespace, scenario=scenario.label, traffic=traffic, **settings)
    )


def test_istio_virtual_service_steps_through_and_is_promoted(scenario: Scenario) -> None:
    scenario.create(
        sc.virtual_service("web", scenario.namespace, stable_host=STABLE, canary_host=CANARY)
    )
    watch = scenario.watch("VirtualService", "web")
    scenario.simulator("istio", obj="web", stable=STABLE, canary=CANARY)
    create_gate(scenario, sc.istio_traffic("web", STABLE, CANARY))

    status = scenario.wait_phase("web", "Promoted", timeout=90)

    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("advance", 20, 60),
        ("promote", 60, 100),
    ]
    assert status["traffic"]["provider"] == "istio"

    def split(body: dict[str, Any]) -> list[tuple[str, int]]:
        return [
            (entry["destination"]["host"], entry["weight"])
            for entry in body["spec"]["http"][0]["route"]
        ]

    assert sequence_of([split(b) for b in scenario.versions(watch)]) == [
        [(STABLE, 100), (CANARY, 0)],
        [(STABLE, 80), (CANARY, 20)],
        [(STABLE, 40), (CANARY, 60)],
        [(STABLE, 0), (CANARY, 100)],
    ]
    live = scenario.must_get("VirtualService", "web")
    assert live["spec"]["hosts"] == ["shop.example"]
    assert live["spec"]["http"][0]["name"] == "primary"
    assert live["metadata"]["labels"][MANAGED_LABEL] == "true"


def test_nginx_canary_ingress_with_a_failing_canary_is_rolled_back(scenario: Scenario) -> None:
    stable = scenario.create(sc.ingress("web", scenario.namespace, service=STABLE))
    scenario.create(sc.ingress(CANARY, scenario.namespace, service=CANARY, canary_weight=0))
    watch = scenario.watch("Ingress", CANARY)
    simulator = scenario.simulator("nginx", obj=CANARY)
    simulator.set_faults(errorRatio=0.05)
    create_gate(scenario, sc.nginx_traffic("web", CANARY))

    status = scenario.wait_phase("web", "RolledBack", timeout=90)

    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("rollback", 20, 0),
    ]
    annotations = [
        ((b["metadata"].get("annotations") or {}).get(sc.NGINX_CANARY),
         (b["metadata"].get("annotations") or {}).get(sc.NGINX_CANARY_WEIGHT))
        for b in scenario.versions(watch)
    ]  # fmt: skip
    assert sequence_of(annotations) == [("true", "0"), ("true", "20"), ("true", "0")]
    # ingress-nginx splits by the canary Ingress alone: the stable one is never written.
    after = scenario.must_get("Ingress", "web")
    assert after["metadata"]["resourceVersion"] == stable["metadata"]["resourceVersion"]
    scenario.wait_event("web", "RolledBack")
