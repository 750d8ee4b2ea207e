"""Two replicas on a Lease, the active one SIGKILLed mid-rollout.

Two `canarygate run --leader-elect` processes (POD_NAME replica-a and replica-b, one Lease
with a short duration): replica-a leads, replica-b stands by and writes nothing (its own
counters of Kubernetes writes stay at 0, and every Event comes from replica-a). The moment
the API server streams the intent of the step 20 -> 40, replica-a is SIGKILLed. replica-b
takes the Lease over no sooner than a whole Lease duration after replica-a's last renewal and
within the documented bound (duration + 2 x the 2 s retry period, plus slack for API latency
on a loaded machine), completes the recorded step and the rollout: every step exactly once,
in the route's versions and in the gate's history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Operator, start_operator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import (
    LOG_SOURCES,
    Scenario,
    history_steps,
    managed_weights,
    metrics_value,
    sequence_of,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
LEASE = "canarygate-ha"
LEASE_SECONDS = 8  # short for the test; the default is 15 s
RETRY_SECONDS = 2  # how often a replica tries to acquire or renew
# API round trips on a loaded two-core machine, on top of the documented bound.
SLACK_SECONDS = 10
WRITES = ("create", "update", "patch")


class Replicas:
    def __init__(self, scenario: Scenario, tmp_path: Any) -> None:
        self.scenario = scenario
        self.log_dir = tmp_path
        self.processes: dict[str, Operator] = {}

    def start(self, name: str) -> Operator:
        stage = self.scenario.stage
        operator = start_operator(
            kubeconfig=stage.cluster.kubeconfig,
            prometheus=stage.prometheus.url,
            log_dir=self.log_dir,
            namespaces=[self.scenario.namespace],
            extra=[
                "--leader-elect",
                f"--lease-namespace={self.scenario.namespace}",
                f"--lease-name={LEASE}",
                f"--lease-duration={LEASE_SECONDS}s",
            ],
            name=name,
            env={"POD_NAME": name},
        )
        self.processes[name] = operator
        return operator

    def metric(self, name: str, metric: str, **labels: str) -> float:
        return metrics_value(self.processes[name].metrics(), metric, **labels)

    def writes(self, name: str) -> float:
        return sum(
            self.metric(name, "canarygate_kube_requests_total", verb=verb) for verb in WRITES
        )

    def leading(self, name: str) -> bool:
        return self.metric(name, "canarygate_leader") == 1

    def stop(self) -> None:
        for operator in self.processes.values():
            operator.stop()


@pytest.fixture
def replicas(
    request: pytest.FixtureRequest, scenario: Scenario, tmp_path: Any
) -> Iterator[Replicas]:
    """The module's own operator is stopped: these two are the only ones."""
    scenario.stage.stop_operator()
    found = Replicas(scenario, tmp_path)
    sources = request.node.stash.setdefault(LOG_SOURCES, [])
    for name in ("replica-a", "replica-b"):
        sources.append(
            (name, lambda n=name: found.processes[n].log_tail(60) if n in found.processes else "")
        )
    try:
        yield found
    finally:
        found.stop()


def lease_spec(body: dict[str, Any]) -> dict[str, Any]:
    return dict(body.get("spec") or {})


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_the_standby_takes_over_when_the_active_replica_dies_mid_step(
    scenario: Scenario, replicas: Replicas
) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    gate, route = scenario.watch("CanaryGate", "web"), scenario.watch("HTTPRoute", ROUTE)
    lease = scenario.watch("Lease", LEASE)

    replicas.start("replica-a")
    wait_until("replica-a to lead", lambda: replicas.leading("replica-a"), timeout=30)
    replicas.start("replica-b")
    assert not replicas.leading("replica-b")

    killed_at: list[float] = []

    def kill(_: dict[str, Any]) -> None:
        replicas.processes["replica-a"].kill()
        killed_at.append(time.time())

    trigger = gate.when(
        "the intent of 20 -> 40",
        lambda b: ((b.get("status") or {}).get("intent") or {}).get("toWeight") == 40,
        kill,
    )
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            steps=[20, 40, 60, 80],
            interval="2s",
        )
    )
    # Until the kill: the standby stands by, and writes nothing at all.
    deadline = time.monotonic() + 90
    while not trigger.wait(0.5):
        assert time.monotonic() < deadline, "the rollout never reached 20 -> 40"
        assert not replicas.leading("replica-b"), "replica-b led while replica-a was alive"
        assert replicas.writes("replica-b") == 0, "replica-b wrote while replica-a led"
    assert replicas.writes("replica-b") == 0
    assert replicas.processes["replica-a"].process.returncode == -9

    wait_until(
        "replica-b to take over", lambda: replicas.leading("replica-b"), timeout=LEASE_SECONDS + 60
    )
    status = scenario.wait_phase("web", "Promoted", timeout=90)

    # Every step exactly once: in the history, and in every version of the route.
    assert [s for s in history_steps(status) if s[0] != "hold"] == [
        ("advance", 0, 20),
        ("advance", 20, 40),
        ("advance", 40, 60),
        ("advance", 60, 80),
        ("promote", 80, 100),
    ]
    seen = sequence_of([managed_weights(b, STABLE, CANARY) for b in scenario.versions(route)])
    assert seen == [[(100, 0)], [(80, 20)], [(60, 40)], [(40, 60)], [(20, 80)], [(0, 100)]]
    assert status.get("intent") is None
    assert replicas.writes("replica-b") > 0  # it did the rest

    # Who wrote what: Events before the kill came from replica-a only, and each transition
    # was announced at most once (an Event may be lost with a kill, never doubled).
    scenario.wait_event("web", "Promoted")  # posted after the status that says Promoted
    events = scenario.events("web")
    for event in events:
        by = event.get("reportingInstance")
        when = moment(str(event.get("eventTime") or event.get("lastTimestamp"))).timestamp()
        assert by in ("replica-a", "replica-b"), event
        if by == "replica-b":
            assert when >= killed_at[0], f"replica-b posted {event['reason']} before the kill"
    reasons = [str(e.get("reason")) for e in events]
    assert reasons.count("Advanced") <= 4
    assert reasons.count("Promoted") == 1
    assert reasons.count("RolloutStarted") == 1

    # The Lease: one takeover, by replica-b, a whole duration after replica-a's last
    # renewal and within the documented bound.
    versions = [lease_spec(b) for b in lease.bodies()]
    last_a = [v for v in versions if v.get("holderIdentity", "").startswith("replica-a_")][-1]
    first_b = next(v for v in versions if v.get("holderIdentity", "").startswith("replica-b_"))
    takeover = (moment(first_b["acquireTime"]) - moment(last_a["renewTime"])).total_seconds()
    after_kill = moment(first_b["acquireTime"]).timestamp() - killed_at[0]
    print(f"TAKEOVER {takeover:.2f}s after the last renewal, {after_kill:.2f}s after the kill")
    assert takeover >= LEASE_SECONDS
    assert takeover <= LEASE_SECONDS + 2 * RETRY_SECONDS + SLACK_SECONDS
    assert first_b["leaseTransitions"] == last_a.get("leaseTransitions", 0) + 1
    assert lease_spec(scenario.must_get("Lease", LEASE))["holderIdentity"].startswith("replica-b_")
