"""The replicas provider live: two Deployments whose replica counts split the traffic (the
simulator splits by ready pods, as a Service would). kwok (or kind's kubelet) makes the pods
Ready. On the local control plane kwok reports pods Ready up to ~45 s late (its pod watch fails
against etcd 3.4 and it catches up when it relists), so both tests' stable Deployments are
created when the module starts and become Ready together.

- a replica-ratio rollout steps and is promoted; every version of both Deployments is checked;
- canary pods that are not Ready yet are not "routing changed outside canarygate";
- a canary whose pods never become Ready is not promoted (the stable is not scaled to 0).
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube import codecs

from lab import scenarios as sc
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import Scenario, Stage, as_dict, history_steps, sequence_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

STABLE, CANARY = "web-stable", "web-canary"
TOTAL = 4
PROMOTES = "test_a_replica_ratio_rollout_steps_and_is_promoted"
NOT_READY = "test_canary_pods_not_ready_yet_are_not_reported_as_an_outside_change"
NEVER_READY = "test_a_canary_whose_pods_never_become_ready_is_not_promoted"


@pytest.fixture(scope="module", autouse=True)
def stable_deployments(request: pytest.FixtureRequest, stage: Stage) -> None:
    """The stable Deployments of this module's selected tests, created before the first runs."""
    selected = {
        item.name
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    }
    for test in sorted(selected & {PROMOTES, NOT_READY, NEVER_READY}):
        namespace = stage.reserve(test)
        body = sc.deployment(STABLE, namespace, app="web", version="stable", replicas=TOTAL)
        stage.cluster.client.create(codecs.from_dict(body))


def ready(scenario: Scenario, name: str) -> int:
    status = scenario.must_get("Deployment", name).get("status") or {}
    return int(status.get("readyReplicas") or 0)


def wait_for_stable(scenario: Scenario) -> None:
    # The rollout reads the live share from ready pods, so it needs the stable ones first.
    wait_until(f"{TOTAL} ready stable pods", lambda: ready(scenario, STABLE) == TOTAL, timeout=120)


def create_gate(scenario: Scenario, **settings: Any) -> None:
    # No guardrail: a canary pod takes traffic only once Ready; the steps are gated on health.
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.replicas_traffic(STABLE, CANARY, TOTAL),
            guardrails=[],
            **settings,
        )
    )


def test_a_replica_ratio_rollout_steps_and_is_promoted(scenario: Scenario) -> None:
    scenario.create(
        sc.deployment(CANARY, scenario.namespace, app="web", version="canary", replicas=0)
    )
    wait_for_stable(scenario)
    stable_watch = scenario.watch("Deployment", STABLE)
    canary_watch = scenario.watch("Deployment", CANARY)
    scenario.simulator("replicas", stable=STABLE, canary=CANARY)
    create_gate(scenario, steps=[50])

    status = scenario.wait_phase("web", "Promoted", timeout=150)

    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 50),
        ("promote", 50, 100),
    ]

    def replicas(watch: Any) -> list[int]:
        return sequence_of([b["spec"]["replicas"] for b in scenario.versions(watch)])

    # 50 % of 4 is two canary pods; promoted, the canary runs all four, the stable none.
    assert replicas(canary_watch) == [0, 2, 4]
    assert replicas(stable_watch) == [4, 2, 0]
    assert status["traffic"]["check"] in ("verified", "cannot-tell")  # never mismatch
    assert status["traffic"]["original"]["stable"]["replicas"] == TOTAL
    assert status["traffic"]["original"]["canary"]["replicas"] == 0
    live = scenario.must_get("Deployment", CANARY)
    assert live["metadata"]["labels"]["canarygate.io/managed-weights"] == "true"


def unschedulable_canary(scenario: Scenario) -> None:
    """Canary pods that can never be scheduled: not Ready on any cluster, for as long as
    needed."""
    canary = sc.deployment(CANARY, scenario.namespace, app="web", version="canary", replicas=0)
    canary["spec"]["template"]["spec"]["nodeSelector"] = {"canarygate.io/e2e": "nowhere"}
    scenario.create(canary)


def evaluations(scenario: Scenario, count: int) -> None:
    ticks = scenario.stage.operator_metric("canarygate_gates_due_total")
    wait_until(
        f"{count} more evaluations",
        lambda: scenario.stage.operator_metric("canarygate_gates_due_total") >= ticks + count,
        timeout=30,
    )


def test_canary_pods_not_ready_yet_are_not_reported_as_an_outside_change(
    scenario: Scenario,
) -> None:
    unschedulable_canary(scenario)
    wait_for_stable(scenario)
    scenario.simulator("replicas", stable=STABLE, canary=CANARY)
    create_gate(scenario, steps=[25, 50])
    scenario.wait_gate("web", "the first step", lambda s: s.get("weight") == 25, timeout=60)
    assert as_dict(scenario.must_get("Deployment", CANARY))["spec"]["replicas"] == 1

    evaluations(scenario, 3)

    assert "WeightMismatch" not in scenario.event_reasons("web")
    conditions = {c["type"]: c for c in scenario.status("web")["conditions"]}
    assert conditions["TrafficReady"]["reason"] != "WeightMismatch"


def test_a_canary_whose_pods_never_become_ready_is_not_promoted(scenario: Scenario) -> None:
    unschedulable_canary(scenario)
    wait_for_stable(scenario)
    scenario.simulator("replicas", stable=STABLE, canary=CANARY)
    create_gate(scenario, steps=[25, 50])
    scenario.wait_gate("web", "the first step", lambda s: s.get("weight") == 25, timeout=60)

    evaluations(scenario, 3)

    status = scenario.status("web")
    assert status["weight"] == 25, "held where the canary could not take its share"
    assert status["phase"] == "Progressing"
    assert as_dict(scenario.must_get("Deployment", STABLE))["spec"]["replicas"] == TOTAL - 1
