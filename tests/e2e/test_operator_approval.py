"""Manual approval live: a gate whose every step and whose promotion need a person.

- it waits in phase WaitingForApproval (the printer columns show the phase and for how long),
  with status.approval saying which key and how to give it, and one WaitingForApproval Event;
- approvals for another revision or another step are ignored: it keeps waiting, since the
  same moment, and nothing moves;
- `canarygate approve NS/NAME` (the real CLI, as its own process) gives the approval the
  gate waits for: the step is taken, once; the promotion then waits for its own approval,
  given with `--promote`; once promoted, there is nothing left to approve (exit 2);
- a gate without any approval policy whose success metric is worse than the baseline at the
  last step waits for the promotion's approval all the same, and `canarygate approve`
  (without `--promote`: what the status says it waits for) lets it promote.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from lab import scenarios as sc
from tests.e2e.operator_fixtures import (
    REPO,
    Scenario,
    history_steps,
    managed_weights,
    sequence_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
APPROVE = "canarygate.io/approve"


def canarygate(scenario: Scenario, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canarygate", *args, f"--kubeconfig={scenario.cluster.kubeconfig}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def waiting_for(scenario: Scenario, key: str) -> dict[str, Any]:
    return scenario.wait_gate(
        "web",
        f"the gate to wait for approval {key}",
        lambda s: (
            s.get("phase") == "WaitingForApproval" and (s.get("approval") or {}).get("key") == key
        ),
        timeout=60,
    )


def weights(body: dict[str, Any]) -> list[tuple[int, int]]:
    return managed_weights(body, STABLE, CANARY)


def test_a_step_and_the_promotion_wait_for_their_own_approvals(scenario: Scenario) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    route = scenario.watch("HTTPRoute", ROUTE)
    gate = f"{scenario.namespace}/web"
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            steps=[20],
            interval="2s",
            approval={"steps": "all", "promotion": True},
        )
    )

    status = waiting_for(scenario, "v1/20")
    approval = status["approval"]
    assert (approval["action"], approval["toWeight"]) == ("advance", 20)
    assert f"canarygate approve {gate}" in approval["how"]
    assert f"{APPROVE}=v1/20" in approval["how"]
    assert status["weight"] == 0
    assert status["action"] == "hold"
    assert status["reasonCodes"][0] == "ApprovalNeeded"
    assert "waits for approval v1/20" in status["message"]
    columns = scenario.printer_columns("web")
    assert columns["PHASE"] == "WaitingForApproval"
    assert re.fullmatch(r"\d+s|\d+m\d*s?", columns["WAITING"]), columns
    event = scenario.wait_event("web", "WaitingForApproval")
    assert f"canarygate approve {gate}" in event["message"]

    wrong_approvals_are_ignored(scenario, approval["waitingSince"])

    approved = canarygate(scenario, "approve", gate)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == f"approved v1/20 on {gate}"
    annotations = scenario.must_get("CanaryGate", "web")["metadata"]["annotations"]
    assert set(annotations[APPROVE].split(",")) == {"v0/20", "v1/20", "v1/60", "v2/20"}

    status = waiting_for(scenario, "v1/promote")
    assert status["weight"] == 20
    assert status["approval"]["toWeight"] == 100
    assert status["approval"]["waitingSince"] != approval["waitingSince"]
    assert scenario.printer_columns("web")["PHASE"] == "WaitingForApproval"

    promoted = canarygate(scenario, "approve", gate, "--promote")
    assert promoted.returncode == 0, promoted.stderr
    assert promoted.stdout.strip() == f"approved v1/promote on {gate}"
    status = scenario.wait_phase("web", "Promoted", timeout=60)

    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("promote", 20, 100),
    ]
    assert "approval" not in status
    # Every version of the route: the step once, then the promotion.
    assert sequence_of([weights(b) for b in scenario.versions(route)]) == [
        [(100, 0)],
        [(80, 20)],
        [(0, 100)],
    ]
    scenario.wait_event("web", "Promoted")  # posted after the status that says Promoted
    reasons = scenario.event_reasons("web")
    assert reasons.count("WaitingForApproval") == 2
    assert reasons.count("Advanced") == 1
    assert reasons.count("Promoted") == 1
    columns = scenario.printer_columns("web")
    assert (columns["PHASE"], columns["WEIGHT"]) == ("Promoted", "100")
    nothing_left_to_approve(scenario)


def wrong_approvals_are_ignored(scenario: Scenario, since: str) -> None:
    """Approvals that name another revision or another step: the gate keeps waiting for
    v1/20, since the same moment, at 0 %, over several visits of the scheduler."""
    scenario.kubectl("annotate", "canarygate", "web", f"{APPROVE}=v0/20,v1/60,v2/20")
    due = scenario.stage.operator_metric("canarygate_gates_due_total")
    scenario.steady(
        "the gate waiting for v1/20 since the same moment, at 0 %",
        lambda: (
            (s := scenario.status("web")).get("phase") == "WaitingForApproval"
            and s["approval"]["waitingSince"] == since
            and s["weight"] == 0
            and weights(scenario.must_get("HTTPRoute", ROUTE)) == [(100, 0)]
        ),
        until=lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= due + 3,
        timeout=60,
    )
    assert scenario.event_reasons("web").count("WaitingForApproval") == 1


def nothing_left_to_approve(scenario: Scenario) -> None:
    gate = f"{scenario.namespace}/web"
    nothing = canarygate(scenario, "approve", gate)
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == (
        "canarygate: the gate waits for no approval; name one with --step N or --promote"
    )
    missing = canarygate(scenario, "approve", f"{scenario.namespace}/nope")
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"canarygate: CanaryGate {scenario.namespace}/nope not found"


# Conversion as constant PromQL: the metric's numbers are not what this test is about (the
# integration tests read them from recorded series); the operator's wait for a person is.
WORSE_CONVERSION = {
    "name": "conversion",
    "direction": "higher",
    "canary": "vector(0.045)",
    "baseline": "vector(0.05)",
    "samples": "vector(5000)",
    "baselineSamples": "vector(20000)",
    "minSamples": 1000,
}


def test_a_worse_success_metric_waits_for_a_person_without_an_approval_policy(
    scenario: Scenario,
) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    route = scenario.watch("HTTPRoute", ROUTE)
    gate = f"{scenario.namespace}/web"
    document = sc.gate(
        "web",
        scenario.namespace,
        scenario=scenario.label,
        traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
        steps=[20],
        interval="2s",
    )
    assert "approval" not in document["spec"]["canary"]
    document["spec"]["canary"]["successMetrics"] = [WORSE_CONVERSION]
    scenario.create(document)

    status = waiting_for(scenario, "v1/promote")
    approval = status["approval"]
    assert (approval["action"], approval["toWeight"]) == ("promote", 100)
    assert f"canarygate approve {gate}" in approval["how"]
    assert status["weight"] == 20
    assert status["action"] == "hold"
    assert status["reasonCodes"][:2] == ["ApprovalNeeded", "SuccessMetricHold"]
    assert status["message"].startswith("hold: promote 20% -> 100% waits for approval v1/promote")
    worse = status["reasons"][1]
    assert "success metric conversion is worse than the baseline" in worse
    assert "lift -10.0% (canary 0.045 over 5000 samples, baseline 0.05 over 20000" in worse
    assert "a person may approve the promotion" in worse
    (metric,) = status["successMetrics"]
    assert metric["verdict"] == "worse"
    columns = scenario.printer_columns("web")
    assert columns["PHASE"] == "WaitingForApproval"
    assert re.fullmatch(r"\d+s|\d+m\d*s?", columns["WAITING"]), columns
    event = scenario.wait_event("web", "WaitingForApproval")
    assert f"canarygate approve {gate}" in event["message"]
    assert weights(scenario.must_get("HTTPRoute", ROUTE)) == [(80, 20)]

    approved = canarygate(scenario, "approve", gate)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.strip() == f"approved v1/promote on {gate}"
    status = scenario.wait_phase("web", "Promoted", timeout=60)
    assert "approval" not in status
    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("promote", 20, 100),
    ]
    assert status["history"][-1]["reason"] == (
        "promote: the last step (20%) passed; success metric(s) conversion worse than the "
        "baseline, and a person approved the promotion"
    )
    assert sequence_of([weights(b) for b in scenario.versions(route)]) == [
        [(100, 0)],
        [(80, 20)],
        [(0, 100)],
    ]
    assert scenario.event_reasons("web").count("WaitingForApproval") == 1
