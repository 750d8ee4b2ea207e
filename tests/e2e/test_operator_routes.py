"""Who owns the route: canarygate changes only the weights, keeps other writers' edits, never
fights a weight it did not set, and gives the route back as it found it.

- deleting a gate mid-rollout restores the original routing (here a route that already sent
  10 % to the canary before the gate existed) and the finalizer goes away;
- another field manager's edits to the rest of the route (a hostname, a filter) survive the
  operator's later weight changes;
- a weight changed outside canarygate is reported (TrafficReady False, WeightMismatch, an
  Event) and left as it is.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.types import PatchType

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import (
    FINALIZER,
    Scenario,
    history_steps,
    managed_weights,
    sequence_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
MANAGED_LABEL = "canarygate.io/managed-weights"
LAST_CHANGE = "canarygate.io/last-change"
HEADER_FILTER = {
    "type": "RequestHeaderModifier",
    "requestHeaderModifier": {"add": [{"name": "x-release", "value": "gitops"}]},
}


def prepare(scenario: Scenario, canary_weight: int = 0) -> Simulator:
    route = sc.http_route(
        ROUTE, scenario.namespace, stable=STABLE, canary=CANARY, canary_weight=canary_weight
    )
    scenario.create(route)
    return scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def create_gate(scenario: Scenario, **settings: Any) -> None:
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            **settings,
        )
    )


def route(scenario: Scenario) -> dict[str, Any]:
    return scenario.must_get("HTTPRoute", ROUTE)


def weights(scenario: Scenario) -> list[tuple[int, int]]:
    return managed_weights(route(scenario), STABLE, CANARY)


def test_deleting_a_gate_restores_the_original_route_and_drops_the_finalizer(
    scenario: Scenario,
) -> None:
    prepare(scenario, canary_weight=10)
    before = route(scenario)
    create_gate(scenario, steps=[20, 40, 60, 80], interval="3s")

    status = scenario.wait_gate(
        "web", "the rollout to reach 20 %", lambda s: s.get("weight") == 20, timeout=60
    )
    assert status["traffic"]["original"]["weights"] == [{"stable": 90, "canary": 10}]
    # The rollout started from 0 %, whatever the route sent to the canary before.
    assert history_steps(status)[:2] == [("hold", 10, 0), ("advance", 0, 20)]
    gate = scenario.must_get("CanaryGate", "web")
    assert FINALIZER in gate["metadata"]["finalizers"]
    assert weights(scenario)[0][1] >= 20

    scenario.delete("CanaryGate", "web")

    wait_until("the gate to be released and gone", lambda: scenario.gate("web") is None)
    after = route(scenario)
    assert managed_weights(after, STABLE, CANARY) == [(90, 10)]
    assert after["spec"] == before["spec"]
    assert MANAGED_LABEL not in (after["metadata"].get("labels") or {})
    assert LAST_CHANGE not in (after["metadata"].get("annotations") or {})
    restored = scenario.wait_event("web", "TrafficRestored")
    assert "original routing restored (1 objects)" in restored["message"]


def test_edits_by_another_field_manager_survive_the_weight_changes(scenario: Scenario) -> None:
    prepare(scenario)
    watch = scenario.watch("HTTPRoute", ROUTE)
    create_gate(scenario, steps=[20, 40, 60])
    scenario.wait_gate("web", "the first step", lambda s: s.get("weight") == 20, timeout=60)

    # What a GitOps tool syncing a new revision of the manifest would do, as its own field
    # manager: a new hostname and a filter on the weighted rule, weights left alone.
    edit = [
        {"op": "add", "path": "/spec/hostnames/-", "value": "www.shop.example"},
        {"op": "add", "path": "/spec/rules/0/filters", "value": [HEADER_FILTER]},
    ]
    edited = scenario.patch(
        "HTTPRoute", ROUTE, edit, patch_type=PatchType.JSON, field_manager="gitops-e2e"
    )
    edited_version = int(edited["metadata"]["resourceVersion"])

    status = scenario.wait_phase("web", "Promoted", timeout=90)
    assert history_steps(status)[-3:] == [
        ("advance", 20, 40),
        ("advance", 40, 60),
        ("promote", 60, 100),
    ]
    later = [
        body
        for body in scenario.versions(watch)
        if int(body["metadata"]["resourceVersion"]) >= edited_version
    ]
    # Every version after the edit kept it, while the weights went on moving.
    assert sequence_of([managed_weights(b, STABLE, CANARY) for b in later])[-1] == [(0, 100)]
    assert len(sequence_of([managed_weights(b, STABLE, CANARY) for b in later])) >= 3
    for body in later:
        assert body["spec"]["hostnames"] == ["shop.example", "www.shop.example"]
        assert body["spec"]["rules"][0]["filters"] == [HEADER_FILTER]
    managers = {entry["manager"] for entry in route(scenario)["metadata"]["managedFields"]}
    assert "gitops-e2e" in managers


def set_by_hand(scenario: Scenario) -> int:
    """A rollout at 20 %, then someone sets 50/50 by hand (kubectl edit), as its own field
    manager, and the mismatch is reported; returns the route's resourceVersion of that edit."""
    prepare(scenario)
    create_gate(scenario, steps=[20, 60], interval="2s")
    scenario.wait_gate("web", "the first step", lambda s: s.get("weight") == 20, timeout=60)
    body = route(scenario)
    for ref in body["spec"]["rules"][0]["backendRefs"]:
        ref["weight"] = 50
    changed = scenario.patch(
        "HTTPRoute", ROUTE, {"spec": {"rules": body["spec"]["rules"]}}, field_manager="someone"
    )
    scenario.wait_gate(
        "web",
        "the mismatch to be reported",
        lambda s: any(
            c["type"] == "TrafficReady"
            and c["status"] == "False"
            and c["reason"] == "WeightMismatch"
            for c in s.get("conditions") or []
        ),
        timeout=60,
    )
    return int(changed["metadata"]["resourceVersion"])


def test_a_weight_changed_outside_canarygate_is_reported_and_not_fought(
    scenario: Scenario,
) -> None:
    changed_version = set_by_hand(scenario)
    watch = scenario.watch("HTTPRoute", ROUTE)
    status = scenario.status("web")
    assert status["weight"] == 20  # what canarygate set, unchanged
    assert status["phase"] == "Progressing"
    event = scenario.wait_event("web", "WeightMismatch")
    assert event["type"] == "Warning"
    assert "50%" in event["message"]

    # Not fought: over several more evaluations the route keeps the hand-set weights.
    ticks = scenario.stage.operator_metric("canarygate_gates_due_total")
    scenario.steady(
        "the hand-set 50/50",
        lambda: weights(scenario) == [(50, 50)],
        until=lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= ticks + 4,
        timeout=40,
    )
    after = [
        managed_weights(b, STABLE, CANARY)
        for b in watch.bodies()
        if int(b["metadata"]["resourceVersion"]) >= changed_version
    ]
    assert after
    assert set(map(tuple, after)) == {((50, 50),)}
    status = scenario.status("web")
    assert status["weight"] == 20
    assert status["phase"] == "Progressing"
    assert "rollback" not in [step[0] for step in history_steps(status)]


def test_a_standing_weight_mismatch_is_reported_once_not_at_every_evaluation(
    scenario: Scenario,
) -> None:
    set_by_hand(scenario)
    scenario.wait_event("web", "WeightMismatch")
    version = scenario.must_get("CanaryGate", "web")["metadata"]["resourceVersion"]
    reported = scenario.event_reasons("web").count("WeightMismatch")

    ticks = scenario.stage.operator_metric("canarygate_gates_due_total")
    wait_until(
        "three more evaluations",
        lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= ticks + 3,
        timeout=30,
    )

    # Nothing changed: no status write, no new Event.
    assert scenario.event_reasons("web").count("WeightMismatch") == reported
    assert scenario.must_get("CanaryGate", "web")["metadata"]["resourceVersion"] == version
