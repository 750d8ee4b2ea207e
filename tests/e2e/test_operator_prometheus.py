"""When Prometheus cannot give evidence, nothing moves and nothing rolls back:

- Prometheus killed (SIGKILL) mid-rollout: the gate holds where it is with MetricsAvailable False
  (PrometheusUnavailable) and an Event; once the same Prometheus is back on the same port with
  its data, the rollout goes on;
- a query Prometheus refuses (a PromQL syntax error) is the Error outcome: the gate holds with
  QueriesAccepted False (QueryError) and a QueryError Event that says what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lab import scenarios as sc
from lab.prometheus import free_port
from lab.stage import TargetedPrometheus, start_targeted_prometheus
from tests.e2e.operator_fixtures import (
    LOG_SOURCES,
    Scenario,
    history_steps,
    managed_weights,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


@pytest.fixture
def own_prometheus(request: pytest.FixtureRequest) -> Iterator[TargetedPrometheus]:
    """A Prometheus of this test's own, which it may kill without disturbing the others."""
    prometheus = start_targeted_prometheus()
    request.node.stash.setdefault(LOG_SOURCES, []).append(
        ("own Prometheus", lambda: prometheus.running.log_tail(30))
    )
    try:
        yield prometheus
    finally:
        prometheus.stop()


def condition(status: dict[str, Any], kind: str) -> tuple[str, str]:
    for entry in status.get("conditions") or []:
        if entry["type"] == kind:
            return entry["status"], entry["reason"]
    return "", ""


def weights(scenario: Scenario) -> list[tuple[int, int]]:
    return managed_weights(scenario.must_get("HTTPRoute", ROUTE), STABLE, CANARY)


def decisions(scenario: Scenario, **labels: str) -> float:
    return scenario.stage.operator_metric("canarygate_decisions_total", **labels)


def test_prometheus_killed_mid_rollout_holds_the_gate_until_it_is_back(
    scenario: Scenario, own_prometheus: TargetedPrometheus
) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator(
        "gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY, prometheus=own_prometheus
    )
    route = scenario.watch("HTTPRoute", ROUTE)
    crash = route.when(
        "the canary's first step",
        lambda body: managed_weights(body, STABLE, CANARY) == [(80, 20)],
        lambda _: own_prometheus.kill(),
    )
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            steps=[20, 40, 60, 80],
            prometheus=own_prometheus.url,
        )
    )
    assert crash.wait(60), "the canary never took its first step"

    status = scenario.wait_gate(
        "web",
        "MetricsAvailable False (PrometheusUnavailable)",
        lambda s: condition(s, "MetricsAvailable") == ("False", "PrometheusUnavailable"),
        timeout=60,
    )
    assert status["weight"] == 20
    assert status["action"] == "hold"
    assert status["health"] == "unknown"
    assert status["phase"] == "Progressing"
    assert "PrometheusUnavailable" in status["reasonCodes"]
    event = scenario.wait_event("web", "PrometheusUnavailable")
    assert event["type"] == "Warning"

    # More evaluations against the dead Prometheus: held at 20 %, never rolled back.
    seen = decisions(scenario, mode="hold")
    scenario.steady(
        "the gate held at 20 %",
        lambda: weights(scenario) == [(80, 20)] and scenario.status("web").get("weight") == 20,
        until=lambda: decisions(scenario, mode="hold") >= seen + 2,
        timeout=60,
    )
    assert "rollback" not in [a for a, _, _ in history_steps(scenario.status("web"))]

    own_prometheus.restart()

    status = scenario.wait_gate(
        "web",
        "the rollout to go on once Prometheus is back",
        lambda s: (s.get("weight") or 0) > 20,
        timeout=90,
    )
    assert condition(status, "MetricsAvailable") == ("True", "Answered")
    steps = history_steps(status)
    assert steps[:3] == [("hold", 0, 0), ("advance", 0, 20), ("advance", 20, 40)]
    assert "rollback" not in [a for a, _, _ in steps]


def test_an_unreachable_prometheus_is_announced_by_a_warning_event(scenario: Scenario) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            prometheus=nobody,
        )
    )
    status = scenario.wait_gate(
        "web",
        "MetricsAvailable False (PrometheusUnavailable)",
        lambda s: condition(s, "MetricsAvailable") == ("False", "PrometheusUnavailable"),
        timeout=60,
    )
    assert status["weight"] == 0
    event = scenario.wait_event("web", "PrometheusUnavailable", timeout=10)
    assert event["type"] == "Warning"


def test_a_query_prometheus_refuses_holds_the_gate_and_says_what_to_fix(
    scenario: Scenario,
) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    route = scenario.must_get("HTTPRoute", ROUTE)
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    journey = sc.journey(scenario.label)
    broken = journey["sli"]["good"].removesuffix(")")  # one parenthesis short
    journey["sli"]["good"] = broken
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            journeys=[journey],
        )
    )

    status = scenario.wait_gate(
        "web",
        "QueriesAccepted False (QueryError)",
        lambda s: condition(s, "QueriesAccepted") == ("False", "QueryError"),
        timeout=60,
    )
    assert status["reasonCodes"][0] == "QueryError"
    assert status["action"] == "hold"
    assert status["weight"] == 0
    [accepted] = [c for c in status["conditions"] if c["type"] == "QueriesAccepted"]
    assert "parse error" in accepted["message"]
    assert "journey checkout sli.good" in accepted["message"]  # names the query to fix
    event = scenario.wait_event("web", "QueryError")
    assert event["type"] == "Warning"

    # Nothing moves, however many evaluations go by.
    ticks = scenario.stage.operator_metric("canarygate_gates_due_total")
    scenario.steady(
        "the gate at 0 % with the route untouched",
        lambda: (
            scenario.must_get("HTTPRoute", ROUTE) == route
            and scenario.status("web").get("weight") == 0
        ),
        until=lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= ticks + 3,
        timeout=30,
    )
    assert history_steps(scenario.status("web")) == [("hold", 0, 0)]
