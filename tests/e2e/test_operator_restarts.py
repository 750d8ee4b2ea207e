"""A restarted operator resumes exactly where it stopped: no step repeated or skipped, the route
where the status says, the rollout completed.

A SIGKILL cannot be timed between two writes from outside, so the operator is killed the moment
the API server streams each write of interest (kubectl --watch, the kill in the reader thread):
after the finalizer, after the start, after a step's intent, after a step's route move, after a
step's result, after the promotion's intent; and, in a rollback, after the route went back to
stable. Wherever each kill lands (before or after the operator's next write), the invariants
must hold. A graceful SIGTERM in the middle of a step resumes exactly too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import (
    FINALIZER,
    ApiWatch,
    Scenario,
    Stage,
    history_steps,
    managed_weights,
    sequence_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
LAST_CHANGE = "canarygate.io/last-change"
START = "rollout of revision v1 starts at 0%"


@pytest.fixture(autouse=True)
def operator_running(stage: Stage) -> None:
    """Each test starts with a running operator, even if the one before failed while it was
    down."""
    if stage.operator is None or not stage.operator.alive():
        stage.start_operator()


def prepare(scenario: Scenario) -> tuple[Simulator, ApiWatch, ApiWatch]:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    simulator = scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    return simulator, scenario.watch("CanaryGate", "web"), scenario.watch("HTTPRoute", ROUTE)


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


def create_watched_gate(
    scenario: Scenario, gate: ApiWatch, route: ApiWatch, **settings: Any
) -> None:
    """Create the gate while no operator runs, and start one only once both watches stream:
    the operator acts within milliseconds, and a version the watches miss is a moment lost."""
    scenario.stage.stop_operator()
    create_gate(scenario, **settings)
    wait_until(
        "the watches to stream the gate and the route",
        lambda: gate.bodies() and route.bodies(),
    )
    scenario.stage.start_operator()


def status_of(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("status") or {})


def intent_to(body: dict[str, Any]) -> Any:
    return (status_of(body).get("intent") or {}).get("toWeight")


def route_weights(body: dict[str, Any]) -> list[tuple[int, int]]:
    return managed_weights(body, STABLE, CANARY)


def where(scenario: Scenario) -> str:
    """The gate and the route as the killed operator left them."""
    status = scenario.status("web")
    weights = route_weights(scenario.must_get("HTTPRoute", ROUTE))
    return (
        f"phase={status.get('phase')} weight={status.get('weight')} "
        f"intent={status.get('intent')} route={weights}"
    )


def test_sigkill_at_each_point_of_a_rollout_resumes_exactly(scenario: Scenario) -> None:
    stage = scenario.stage
    _, gate, route = prepare(scenario)

    def kill(_: dict[str, Any]) -> None:
        stage.kill_operator()

    moments: list[tuple[str, ApiWatch, Callable[[dict[str, Any]], bool]]] = [
        (
            "after the finalizer, before the start",
            gate,
            lambda b: (
                FINALIZER in (b["metadata"].get("finalizers") or [])
                and not status_of(b).get("phase")
            ),
        ),
        ("after the start", gate, lambda b: status_of(b).get("phase") == "Pending"),
        ("after the intent of 0 -> 20", gate, lambda b: intent_to(b) == 20),
        ("after the route moved to 40", route, lambda b: route_weights(b) == [(60, 40)]),
        (
            "after the result of 40 -> 60",
            gate,
            lambda b: status_of(b).get("weight") == 60 and not status_of(b).get("intent"),
        ),
        ("after the intent to promote", gate, lambda b: intent_to(b) == 100),
    ]
    triggers = [(what, watch.when(what, condition, kill)) for what, watch, condition in moments]
    # The first moment comes milliseconds after the gate exists: create it while no operator
    # runs and start one only once both watches stream, or the moment may pass unseen.
    stage.stop_operator()
    create_gate(scenario, steps=[20, 40, 60])
    wait_until(
        "the watches to stream the gate and the route", lambda: gate.bodies() and route.bodies()
    )
    stage.start_operator()

    landed: list[str] = []
    for what, trigger in triggers:
        assert trigger.wait(60), f"never reached the moment {what}; so far: {landed}"
        assert stage.operator is not None
        assert stage.operator.process.returncode == -9
        landed.append(f"{what}: {where(scenario)}")
        stage.start_operator()

    status = scenario.wait_phase("web", "Promoted", timeout=90)
    context = "\n".join(landed)
    print("KILLS\n" + context)
    steps = history_steps(status)
    assert [s for s in steps if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("advance", 20, 40),
        ("advance", 40, 60),
        ("promote", 60, 100),
    ], context
    assert [h["reason"] for h in status["history"]].count(START) == 1, context
    assert status["weight"] == 100
    assert status.get("intent") is None
    # Every version of the route: each step once, in order, never back.
    seen = sequence_of([route_weights(b) for b in scenario.versions(route)])
    assert seen == [[(100, 0)], [(80, 20)], [(60, 40)], [(40, 60)], [(0, 100)]], context
    assert route_weights(scenario.must_get("HTTPRoute", ROUTE)) == [(0, 100)]
    reasons = scenario.event_reasons("web")
    assert reasons.count("Promoted") <= 1  # an Event may be lost with a kill, never doubled
    assert reasons.count("Advanced") <= 3
    assert reasons.count("RolloutStarted") <= 1


def test_sigkill_right_after_a_rollback_moved_the_route_records_it_after_restart(
    scenario: Scenario,
) -> None:
    stage = scenario.stage
    simulator, gate, route = prepare(scenario)
    simulator.set_faults(errorRatio=0.05)

    def rolled_back(body: dict[str, Any]) -> bool:
        stamp = (body["metadata"].get("annotations") or {}).get(LAST_CHANGE)
        return stamp is not None and json.loads(stamp).get("action") == "rollback"

    trigger = route.when("the rollback's route write", rolled_back, lambda _: stage.kill_operator())
    create_watched_gate(scenario, gate, route, steps=[20, 60])
    assert trigger.wait(90), "the canary was never rolled back"
    landed = where(scenario)
    print("ROLLBACK KILL", landed)
    stage.start_operator()

    status = scenario.wait_phase("web", "RolledBack", timeout=60)
    steps = history_steps(status)
    assert [s for s in steps if s[0] != "hold"] == [("advance", 0, 20), ("rollback", 20, 0)], landed
    assert status["weight"] == 0
    assert route_weights(scenario.must_get("HTTPRoute", ROUTE)) == [(100, 0)]
    assert sequence_of([route_weights(b) for b in scenario.versions(route)]) == [
        [(100, 0)],
        [(80, 20)],
        [(100, 0)],
    ]
    # And it stays so: more visits of the scheduler, no move.
    ticks = stage.operator_metric("canarygate_gates_due_total")
    simulator.clear_faults()
    scenario.steady(
        "the rolled-back route",
        lambda: route_weights(scenario.must_get("HTTPRoute", ROUTE)) == [(100, 0)],
        until=lambda: stage.operator_metric("canarygate_gates_due_total") >= ticks + 3,
        timeout=30,
    )
    assert history_steps(scenario.status("web")).count(("rollback", 20, 0)) == 1


def test_sigterm_in_the_middle_of_a_step_resumes_exactly(scenario: Scenario) -> None:
    stage = scenario.stage
    _, gate, route = prepare(scenario)
    codes: list[int | None] = []
    trigger = gate.when(
        "the intent of 20 -> 40",
        lambda b: intent_to(b) == 40,
        lambda _: codes.append(stage.stop_operator()),
    )
    create_watched_gate(scenario, gate, route, steps=[20, 40, 60])
    assert trigger.wait(60), "the rollout never reached 20 -> 40"
    assert codes == [0], "SIGTERM is a clean exit"
    assert "canarygate operator stopped" in stage.operator_log(5)
    landed = where(scenario)
    stage.start_operator()

    status = scenario.wait_phase("web", "Promoted", timeout=90)
    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("advance", 20, 40),
        ("advance", 40, 60),
        ("promote", 60, 100),
    ], landed
    seen = sequence_of([route_weights(b) for b in scenario.versions(route)])
    assert seen == [[(100, 0)], [(80, 20)], [(60, 40)], [(40, 60)], [(0, 100)]], landed
    assert scenario.event_reasons("web").count("Advanced") == 3
