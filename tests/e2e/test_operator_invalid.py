"""Invalid gates: what the API server refuses never exists; what it lets through but canarygate
refuses is reported (phase Invalid, condition SpecValid False, an InvalidSpec Event) and
nothing is actuated: the route is left exactly as it was.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from lab import scenarios as sc
from tests.e2e.operator_fixtures import FINALIZER, Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


def kubectl_apply(scenario: Scenario, document: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    cluster = scenario.cluster
    return subprocess.run(
        [cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", "apply", "--filename=-"],
        input=json.dumps(document),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def with_route(scenario: Scenario) -> dict[str, Any]:
    """A route already sending 10 % to the canary: any write by canarygate would show."""
    return scenario.create(
        sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY, canary_weight=10)
    )


def gate(scenario: Scenario, **settings: Any) -> dict[str, Any]:
    settings.setdefault("traffic", sc.gateway_traffic(ROUTE, STABLE, CANARY))
    return sc.gate("web", scenario.namespace, scenario=scenario.label, **settings)


def test_a_gate_the_api_server_refuses_is_never_created(scenario: Scenario) -> None:
    route = with_route(scenario)

    refused = kubectl_apply(scenario, gate(scenario, steps=[60, 20]))

    assert refused.returncode != 0
    assert "steps must be strictly increasing canary percentages" in refused.stderr
    assert scenario.gate("web") is None
    assert scenario.must_get("HTTPRoute", ROUTE) == route


def test_a_gate_canarygate_refuses_is_invalid_and_actuates_nothing(scenario: Scenario) -> None:
    route = with_route(scenario)
    # The CRD's CEL rule accepts this URL (it has a host); canarygate's address check does not.
    document = gate(scenario, prometheus="http://-prometheus:9090")
    applied = kubectl_apply(scenario, document)
    assert applied.returncode == 0, applied.stderr

    status = scenario.wait_phase("web", "Invalid", timeout=30)

    [spec_valid] = [c for c in status["conditions"] if c["type"] == "SpecValid"]
    assert spec_valid["status"] == "False"
    assert spec_valid["reason"] == "Invalid"
    assert "'-prometheus' is not a valid host name" in spec_valid["message"]
    assert status["message"].startswith("invalid spec: spec.prometheus.address")
    event = scenario.wait_event("web", "InvalidSpec")
    assert event["type"] == "Warning"
    assert "spec.prometheus.address" in event["message"]

    # Reported, and nothing actuated: the route as it was, no finalizer, no rollout.
    assert scenario.must_get("HTTPRoute", ROUTE) == route
    body = scenario.must_get("CanaryGate", "web")
    assert FINALIZER not in (body["metadata"].get("finalizers") or [])
    assert "traffic" not in body["status"]
    assert scenario.event_reasons("web") == ["InvalidSpec"]

    # Fixed, it is accepted and its rollout starts.
    prometheus = scenario.stage.prometheus.url
    scenario.patch("CanaryGate", "web", {"spec": {"prometheus": {"address": prometheus}}})
    status = scenario.wait_gate(
        "web",
        "the fixed gate to start",
        lambda s: s.get("phase") not in (None, "Invalid") and s.get("revision") == "v1",
        timeout=30,
    )
    [spec_valid] = [c for c in status["conditions"] if c["type"] == "SpecValid"]
    assert spec_valid["status"] == "True"
    assert status["traffic"]["original"]["weights"] == [{"stable": 90, "canary": 10}]


def test_a_gate_whose_backends_are_the_same_service_is_invalid(scenario: Scenario) -> None:
    route = with_route(scenario)
    document = gate(scenario, traffic=sc.gateway_traffic(ROUTE, STABLE, STABLE))
    applied = kubectl_apply(scenario, document)
    assert applied.returncode == 0, applied.stderr

    # The address case above is reported within a second; give this one ten.
    status = scenario.wait_phase("web", "Invalid", timeout=10)
    assert scenario.must_get("HTTPRoute", ROUTE) == route
    [spec_valid] = [c for c in status["conditions"] if c["type"] == "SpecValid"]
    assert spec_valid["status"] == "False"
    assert "canaryBackend" in spec_valid["message"]
    scenario.wait_event("web", "InvalidSpec", timeout=10)  # written after the status
