"""Flagger asks canarygate, on the local control plane: Flagger built from its Go module
(lab.peers) with the Gateway API provider, the Canary of examples/flagger/ with its three
webhooks and its token Secret (read by the operator through --verdict-token-secret), the live
operator's verdict API, and a judge-only gate over a traffic simulator that follows the
HTTPRoute Flagger generates:

- a bad canary (half its requests fail once it takes traffic): canarygate says fail, the
  `rollout` webhook answers 412, Flagger counts failed checks and rolls the canary back;
- a canary during a fleet-wide red (stable and canary fail alike, 30 %): canarygate holds
  (inconclusive), `confirm-traffic-increase` answers 412 and `rollout` 200: Flagger halts at
  its weight and counts no failed check, for as long as the red lasts; once it is over the
  canary goes on and is promoted.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from lab import peers
from lab.prometheus import free_port
from lab.stage import StageError
from tests.e2e.helpers import Cluster, wait_until
from tests.e2e.judges import (
    EXAMPLE_VERDICT_API,
    EXAMPLES,
    apply,
    callers_of,
    create_judged_gate,
    documents,
    get,
    in_namespace,
    judged_gate,
    of_kind,
)
from tests.e2e.operator_fixtures import LOG_SOURCES, Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PORT = free_port()
TOKENS = "canarygate-verdict-tokens"
CANARY = "checkout"
IMAGE = "example.invalid/checkout"
HALTS = 3  # confirm-traffic-increase calls answered 412 while the canary must stay put


def OPERATOR_ARGS(namespaces: Sequence[str]) -> list[str]:
    return [
        f"--verdict-address=127.0.0.1:{PORT}",
        *(f"--verdict-token-secret={namespace}/{TOKENS}" for namespace in namespaces),
    ]


@pytest.fixture(scope="module")
def flagger_crds(cluster: Cluster) -> None:
    try:
        peers.install_crds(peers.FLAGGER, cluster.kubeconfig)
    except peers.PeerError as error:
        pytest.fail(f"Flagger could not be built or installed: {error}")


def deployment(image: str) -> dict[str, Any]:
    labels = {"app": CANARY}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": CANARY},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image,
                                         "ports": [{"containerPort": 8080}]}]},
            },
        },
    }  # fmt: skip


@pytest.fixture
def flagger(
    request: pytest.FixtureRequest, scenario: Scenario, flagger_crds: None, tmp_path: Path
) -> Iterator[tuple[peers.PeerProcess, Any]]:
    """The example's Canary, Secret and gate in the test's namespace (the webhooks pointed at
    this operator, a fresh token, a 10 s interval), Flagger running until the Canary is
    Initialized, and a simulator on the HTTPRoute Flagger made."""
    namespace = scenario.namespace
    token = secrets.token_hex(24)
    docs = in_namespace(documents(EXAMPLES / "flagger" / "canary.yaml"), namespace)
    [canary] = of_kind(docs, "Canary")
    [secret] = of_kind(docs, "Secret")
    secret["stringData"] = {"flagger": token}
    canary["spec"]["service"]["gatewayRefs"] = [{"name": "public", "namespace": namespace}]
    analysis = canary["spec"]["analysis"]
    analysis["interval"] = "10s"
    kinds = {hook["type"] for hook in analysis["webhooks"]}
    assert kinds == {"confirm-traffic-increase", "rollout", "confirm-promotion"}
    for hook in analysis["webhooks"]:
        assert hook["url"].startswith(EXAMPLE_VERDICT_API)
        hook["url"] = hook["url"].replace(EXAMPLE_VERDICT_API, f"http://127.0.0.1:{PORT}")
        hook["metadata"]["token"] = token
    apply(scenario, [secret, deployment(f"{IMAGE}:1"), canary])
    try:
        process = peers.start_flagger(
            kubeconfig=scenario.cluster.kubeconfig,
            prometheus=scenario.stage.prometheus.url,
            log_dir=tmp_path,
            namespace=namespace,
        )
    except (peers.PeerError, StageError) as error:
        pytest.fail(f"Flagger did not start: {error}")
    request.node.stash.setdefault(LOG_SOURCES, []).append(("flagger", lambda: process.log_tail(40)))
    try:
        wait_until("the Canary Initialized", lambda: phase(scenario) == "Initialized", timeout=180)
        simulator = scenario.simulator(
            "gatewayAPI", obj=CANARY, stable=f"{CANARY}-primary", canary=f"{CANARY}-canary"
        )
        # A fleet-wide 30 % failure starts unevenly in 10 s windows: 5 canary requests a second
        # against 45 stable ones read up to a few points apart, so the guardrail allows 10
        # (the bad canary fails half its requests, 50 points above stable).
        gate = judged_gate(
            scenario, CANARY, steps=[10, 20, 30, 40, 50], interval="2s", max_increase=0.1
        )
        # After a red, steps wait for health to stay out of red for the freeze's cooldown
        # (10m by default): shortened so that the promotion after the fleet-wide red is quick.
        gate["spec"].setdefault("policy", {})["freezeCooldown"] = "20s"
        create_judged_gate(scenario, gate)
        yield process, simulator
    finally:
        process.stop()


def canary_status(scenario: Scenario) -> dict[str, Any]:
    return dict(get(scenario, f"canary/{CANARY}").get("status") or {})


def phase(scenario: Scenario) -> str:
    return str(canary_status(scenario).get("phase"))


def release(scenario: Scenario, image: str) -> None:
    scenario.kubectl("set", "image", f"deployment/{CANARY}", f"app={image}")


def primary_image(scenario: Scenario) -> str:
    body = get(scenario, f"deployment/{CANARY}-primary")
    return str(body["spec"]["template"]["spec"]["containers"][0]["image"])


def flagger_events(scenario: Scenario) -> list[str]:
    found = get(scenario, "events")["items"]
    return [
        str(e.get("message")) for e in found if e.get("involvedObject", {}).get("kind") == "Canary"
    ]


def caller(scenario: Scenario) -> str:
    return f"secret:{scenario.namespace}/{TOKENS}/flagger"


def test_a_bad_canary_is_rolled_back_by_flagger_because_canarygate_said_fail(
    scenario: Scenario, flagger: tuple[peers.PeerProcess, Any]
) -> None:
    _, simulator = flagger
    simulator.set_faults(errorRatio=0.5)
    release(scenario, f"{IMAGE}:2")
    wait_until("Flagger to roll the canary back", lambda: phase(scenario) == "Failed", timeout=300)
    status = canary_status(scenario)
    assert status["canaryWeight"] == 0
    assert primary_image(scenario) == f"{IMAGE}:1"
    events = flagger_events(scenario)
    assert any("external check canarygate-check failed" in e for e in events), events
    assert any("Rolling back" in e for e in events), events
    stage = scenario.stage
    assert (
        stage.operator_metric("canarygate_verdicts_total", caller=caller(scenario), verdict="fail")
        >= 2
    )
    assert stage.operator_metric("canarygate_verdict_requests_total", code="412") >= 2
    failed = wait_until(
        "Flagger's fail answer in the gate's status",
        lambda: (
            [
                c
                for c in callers_of(scenario, CANARY)
                if c["name"] == caller(scenario) and c["verdict"] == "fail"
            ]
            or None
        ),
        timeout=60,
    )
    assert failed[0]["via"] in ("flagger/rollout", "flagger/confirm-traffic-increase")
    assert failed[0]["weight"] > 0  # judged at the weight Flagger set (read from the Canary)


def test_a_canary_during_a_fleet_wide_red_is_halted_not_rolled_back(
    scenario: Scenario, flagger: tuple[peers.PeerProcess, Any]
) -> None:
    _, simulator = flagger
    release(scenario, f"{IMAGE}:2")
    wait_until(
        "Flagger to send the canary some traffic",
        lambda: int(canary_status(scenario).get("canaryWeight") or 0) >= 10,
        timeout=180,
    )
    simulator.set_faults(fleetErrorRatio=0.3)  # stable and canary alike: not the canary's doing
    scenario.wait_gate(
        CANARY, "customer health red", lambda s: s.get("health") == "red", timeout=120
    )
    stage = scenario.stage

    def halts() -> float:
        return stage.operator_metric("canarygate_verdict_requests_total", code="412")

    wait_until("a traffic increase halted by canarygate", lambda: halts() >= 1, timeout=120)
    held = int(canary_status(scenario)["canaryWeight"])
    first = halts()
    scenario.steady(
        f"the canary held at {held}%, no failed check, no rollback",
        lambda: (
            canary_status(scenario).get("canaryWeight") == held
            and int(canary_status(scenario).get("failedChecks") or 0) == 0
            and phase(scenario) == "Progressing"
        ),
        until=lambda: halts() >= first + HALTS,
        timeout=240,
    )
    events = flagger_events(scenario)
    assert any("waiting for traffic increase approval" in e for e in events), events
    assert not any("Rolling back" in e for e in events), events
    assert (
        stage.operator_metric(
            "canarygate_verdicts_total", caller=caller(scenario), verdict="inconclusive"
        )
        >= HALTS
    )
    # The red ends: the canary goes on where it stopped and is promoted.
    simulator.clear_faults()
    wait_until(
        "the canary promoted", lambda: phase(scenario) == "Succeeded", timeout=420, interval=2
    )
    assert primary_image(scenario) == f"{IMAGE}:2"
    assert int(canary_status(scenario).get("failedChecks") or 0) == 0
