"""The operator's own telemetry, scraped from the live process during a rollout:

- /metrics holds every family docs/operations.md lists, with values that match what happened: the
  decisions counted by action and mode (an advance per step, one promotion), the gates by
  phase and health, each gate's weight equal to its status', the tick's duration and lag,
  queries planned / distinct / sent, a refused query counted by kind, API writes and
  conflicts;
- JSON log lines carry the gate, its revision and the action (decisions) or the Event
  reason (transitions) as fields;
- /readyz is 503 until the first complete list of CanaryGates (the API server's answers held
  back by a relay), then 200; /healthz is 200 meanwhile: waiting for the API is not being
  stuck.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lab import scenarios as sc
from lab.stage import start_operator
from tests.e2e.helpers import HeldRelay, wait_until
from tests.e2e.operator_fixtures import (
    CanaryGate,
    Scenario,
    Stage,
    history_steps,
    metrics_value,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

OPERATOR_ARGS = ("--log-format=json",)
ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def documented_metrics() -> set[str]:
    """The metrics table of docs/operations.md (one metric per row)."""
    section = OPERATIONS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(canarygate_[a-z_]+)`", section, flags=re.MULTILINE))


def exposed(text: str) -> dict[str, str]:
    """Family name (as the docs name it, counters with _total) -> type."""
    found = {}
    for family in text_string_to_metric_families(text):
        name = f"{family.name}_total" if family.type == "counter" else family.name
        found[name] = family.type
    return found


def json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_metrics_and_logs_follow_a_live_rollout(scenario: Scenario) -> None:
    stage = scenario.stage
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    # A second gate whose journey Prometheus refuses: it holds, and its failures are counted.
    scenario.create(sc.http_route("broken", scenario.namespace, stable="b-stable", canary="b-can"))
    journey = sc.journey(scenario.label)
    journey["sli"]["good"] = journey["sli"]["good"].removesuffix(")")  # one parenthesis short
    scenario.create(
        sc.gate("broken", scenario.namespace, scenario=scenario.label, journeys=[journey],
                traffic=sc.gateway_traffic("broken", "b-stable", "b-can"))
    )  # fmt: skip
    before = stage.operator.metrics() if stage.operator else ""
    advances = metrics_value(before, "canarygate_decisions_total", action="advance")
    promotes = metrics_value(before, "canarygate_decisions_total", action="promote")
    scenario.create(
        sc.gate("web", scenario.namespace, scenario=scenario.label, steps=[20, 60],
                traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY))
    )  # fmt: skip

    def weight_metric() -> float:
        return stage.operator_metric(
            "canarygate_gate_weight_ratio", namespace=scenario.namespace, name="web"
        )

    # Mid-rollout: the weight gauge follows the status (read both until they agree on a
    # step, as the gate may move between the two reads).
    wait_until(
        "the weight gauge to show the canary's first step",
        lambda: scenario.status("web").get("weight") == 20 and weight_metric() == 0.2,
        timeout=60,
        interval=0.2,
    )
    status = scenario.wait_phase("web", "Promoted", timeout=90)
    scenario.wait_gate(
        "broken", "the broken gate to hold on its refused query",
        lambda s: "QueryError" in (s.get("reasonCodes") or []), timeout=60,
    )  # fmt: skip
    assert history_steps(status)[-1] == ("promote", 60, 100)

    assert stage.operator is not None
    check_metrics(scenario, stage.operator.metrics(), advances=advances, promotes=promotes)
    check_logs(stage.operator.log_path, scenario.namespace)


def check_metrics(scenario: Scenario, text: str, *, advances: float, promotes: float) -> None:
    assert documented_metrics() <= set(exposed(text)), "a documented metric is not exposed"

    def metric(name: str, /, **labels: str) -> float:
        return metrics_value(text, name, **labels)

    assert metric("canarygate_decisions_total", action="advance") >= advances + 2
    assert metric("canarygate_decisions_total", action="promote") == promotes + 1
    assert metric("canarygate_decisions_total", action="promote", mode="proceed") >= 1
    ns = scenario.namespace
    assert metric("canarygate_gate_weight_ratio", namespace=ns, name="web") == 1.0
    assert metric("canarygate_gate_weight_ratio", namespace=ns, name="broken") == 0.0
    # Gates by phase and health: one cell per gate of this module the operator knows.
    gates = sum(
        len(list(scenario.client.list(CanaryGate, namespace=namespace)))
        for namespace in scenario.stage.namespaces
    )
    assert metric("canarygate_gates") == gates
    assert metric("canarygate_gates", phase="Promoted", health="green") >= 1
    assert metric("canarygate_gates", health="unknown") >= 1  # the broken one
    assert metric("canarygate_tick_duration_seconds_count") >= 3
    assert metric("canarygate_tick_evaluation_seconds_count") >= 3
    assert 0 <= metric("canarygate_schedule_lag_seconds") < 60
    assert metric("canarygate_gates_due_total") >= 3
    planned = metric("canarygate_queries_planned_total")
    distinct = metric("canarygate_queries_distinct_total")
    assert planned >= distinct >= 1
    assert metric("canarygate_prometheus_requests_total") >= distinct
    assert metric("canarygate_prometheus_query_failures_total", kind="refused") >= 1
    assert metric("canarygate_kube_requests_total", verb="patch") >= 5  # status writes
    assert metric("canarygate_kube_requests_total", verb="update") >= 3  # route writes
    assert metric("canarygate_kube_requests_total", verb="list") >= 1
    assert metric("canarygate_kube_conflicts_total") >= 0
    assert metric("canarygate_leader") == 1


def check_logs(path: Path, namespace: str) -> None:
    logged = json_lines(path)
    gate = f"{namespace}/web"
    mine = [d for d in logged if d.get("gate") == gate]
    decisions = [
        (d["action"], d["weight"], d["weight_next"])
        for d in mine
        if d.get("logger") == "canarygate.decisions"
    ]
    assert ("advance", 0, 20) in decisions
    assert ("advance", 20, 60) in decisions
    assert ("promote", 60, 100) in decisions
    assert all(d["revision"] == "v1" for d in mine), mine
    events = [d["event"] for d in mine if "event" in d]
    assert events[0] == "RolloutStarted"
    assert events.count("Promoted") == 1
    promoted = next(d for d in mine if d.get("event") == "Promoted")
    assert promoted["level"] == "info"
    assert {"time", "logger", "message"} <= set(promoted)
    broken = [d for d in logged if d.get("gate") == f"{namespace}/broken"]
    assert any(d.get("event") == "QueryError" and d["level"] == "warning" for d in broken)


def test_readiness_waits_for_the_first_list_and_liveness_does_not(
    stage: Stage, tmp_path: Path
) -> None:
    config = yaml.safe_load(stage.cluster.kubeconfig.read_text())
    server = urlsplit(config["clusters"][0]["cluster"]["server"])
    relay = HeldRelay((str(server.hostname), int(server.port or 443)))
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    held = tmp_path / "kubeconfig"
    held.write_text(yaml.safe_dump(config))
    held.chmod(0o600)
    operator = start_operator(
        kubeconfig=held, prometheus=stage.prometheus.url, log_dir=tmp_path,
        namespaces=stage.namespaces, name="held-operator", wait=False,
    )  # fmt: skip
    try:

        def probe(path: str) -> int | None:
            assert operator.alive(), operator.log_tail()
            try:
                return httpx.get(f"{operator.health_url}{path}", timeout=2).status_code
            except httpx.HTTPError:
                return None  # not serving yet

        wait_until("the probes to be served", lambda: probe("/healthz") == 200, timeout=60)
        wait_until("the informer to ask for the gates", lambda: relay.accepted >= 1, timeout=30)
        assert probe("/readyz") == 503
        assert probe("/healthz") == 200
        relay.release()
        wait_until("/readyz to turn 200", lambda: probe("/readyz") == 200, timeout=60)
        assert probe("/healthz") == 200
        listed = metrics_value(operator.metrics(), "canarygate_kube_requests_total", verb="list")
        assert listed >= 1
    finally:
        operator.stop()
        relay.close()
