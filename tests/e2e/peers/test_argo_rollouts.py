"""Argo Rollouts asks canarygate, on the local control plane: the controller built from its Go
module (lab.peers), the manifests of examples/argo-rollouts/ (the Rollout with its Istio
VirtualService, the AnalysisTemplate with the `web` provider, the ServiceAccount whose token
it sends), the live operator's verdict API, and a judge-only gate over a traffic simulator
that follows the VirtualService's weights as Argo Rollouts sets them:

- a healthy canary: every analysis step passes and the Rollout completes on the new revision;
- a canary whose journey burns (half its requests fail once it takes traffic): canarygate
  says fail at 20 %, the AnalysisRun fails and Argo Rollouts aborts the Rollout, all
  traffic back on stable. The gate's status shows Argo Rollouts' identity and its answers.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    items,
    judged_gate,
    of_kind,
)
from tests.e2e.operator_fixtures import LOG_SOURCES, Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PORT = free_port()
OPERATOR_ARGS = (f"--verdict-address=127.0.0.1:{PORT}",)
ROLLOUT = "checkout"
IMAGE = "example.invalid/checkout"


@pytest.fixture(scope="module")
def rollouts_crds(cluster: Cluster) -> None:
    try:
        peers.install_crds(peers.ARGO_ROLLOUTS, cluster.kubeconfig)
    except peers.PeerError as error:
        pytest.fail(f"Argo Rollouts could not be built or installed: {error}")


@pytest.fixture
def argo(
    request: pytest.FixtureRequest, scenario: Scenario, rollouts_crds: None, tmp_path: Path
) -> Iterator[peers.PeerProcess]:
    try:
        controller = peers.start_argo_rollouts(
            kubeconfig=scenario.cluster.kubeconfig, log_dir=tmp_path, namespace=scenario.namespace
        )
    except (peers.PeerError, StageError) as error:
        pytest.fail(f"Argo Rollouts did not start: {error}")
    request.node.stash.setdefault(LOG_SOURCES, []).append(
        ("argo-rollouts", lambda: controller.log_tail(40))
    )
    yield controller
    controller.stop()


def prepare(scenario: Scenario) -> Any:
    """The examples in the test's namespace: the reader's ServiceAccount, token and Role, the
    AnalysisTemplate (pointed at this operator, with shorter timings), the Rollout, its
    Services and VirtualService; then a simulator on that VirtualService and the gate."""
    namespace = scenario.namespace
    judge = in_namespace(documents(EXAMPLES / "argo-rollouts" / "canarygate.yaml"), namespace)
    apply(scenario, [doc for doc in judge if doc["kind"] != "CanaryGate"])
    [template] = in_namespace(
        documents(EXAMPLES / "argo-rollouts" / "analysis-template.yaml"), namespace
    )
    for arg in template["spec"]["args"]:
        if arg["name"] == "verdict-api":
            assert arg["value"] == EXAMPLE_VERDICT_API
            arg["value"] = f"http://127.0.0.1:{PORT}"
    [metric] = template["spec"]["metrics"]
    assert metric["successCondition"] == 'result == "pass"'
    assert metric["failureCondition"] == 'result == "fail"'
    assert (metric["failureLimit"], metric["inconclusiveLimit"]) == (0, 0)
    # The stage evaluates every 2 s over 10 s windows: measure sooner and more often.
    metric.update(initialDelay="15s", interval="4s", count=2)
    rollout_docs = in_namespace(documents(EXAMPLES / "argo-rollouts" / "rollout.yaml"), namespace)
    [rollout] = of_kind(rollout_docs, "Rollout")
    rollout["spec"]["replicas"] = 2
    rollout["spec"]["template"]["spec"]["containers"][0]["image"] = f"{IMAGE}:1"
    apply(scenario, [template, *rollout_docs])
    simulator = scenario.simulator(
        "istio", obj="checkout", stable="checkout-stable", canary="checkout-canary"
    )
    create_judged_gate(scenario, judged_gate(scenario, "checkout", steps=[20, 50]))
    # The token controller fills the example's token Secret.
    wait_until(
        "the verdict token Secret to be filled",
        lambda: get(scenario, "secret/canarygate-verdict-token").get("data", {}).get("token"),
        timeout=60,
    )
    return simulator


def rollout_status(scenario: Scenario) -> dict[str, Any]:
    return dict(get(scenario, f"rollout/{ROLLOUT}").get("status") or {})


def healthy_on(scenario: Scenario, image: str) -> bool:
    body = get(scenario, f"rollout/{ROLLOUT}")
    status = body.get("status") or {}
    current = body["spec"]["template"]["spec"]["containers"][0]["image"]
    return bool(
        current == image
        and status.get("phase") == "Healthy"
        and status.get("observedGeneration") == str(body["metadata"]["generation"])
        and status.get("stableRS")
        and status.get("stableRS") == status.get("currentPodHash")
    )


def release(scenario: Scenario, image: str) -> None:
    path = "/spec/template/spec/containers/0/image"
    patch = f'[{{"op": "replace", "path": "{path}", "value": "{image}"}}]'
    scenario.kubectl("patch", f"rollout/{ROLLOUT}", "--type=json", f"--patch={patch}")


def canary_weight(scenario: Scenario) -> int:
    route = get(scenario, "virtualservice/checkout")["spec"]["http"][0]["route"]
    return int(next(r["weight"] for r in route if r["destination"]["host"] == "checkout-canary"))


def measurements(scenario: Scenario) -> list[tuple[str, str, str]]:
    """(AnalysisRun phase, measurement phase, value) of every measurement so far."""
    found = []
    for run in items(scenario, "analysisruns"):
        for metric in (run.get("status") or {}).get("metricResults") or []:
            for measurement in metric.get("measurements") or []:
                found.append(
                    (
                        str(run["status"].get("phase")),
                        str(measurement.get("phase")),
                        str(measurement.get("value")),
                    )
                )
    return found


def test_a_healthy_rollout_completes_on_canarygates_pass(
    scenario: Scenario, argo: peers.PeerProcess
) -> None:
    prepare(scenario)
    wait_until(
        "the first revision Healthy", lambda: healthy_on(scenario, f"{IMAGE}:1"), timeout=180
    )
    release(scenario, f"{IMAGE}:2")
    wait_until(
        "the new revision Healthy through both analysis steps",
        lambda: healthy_on(scenario, f"{IMAGE}:2"),
        timeout=300,
        interval=1,
    )
    runs = items(scenario, "analysisruns")
    assert len(runs) == 2, [r["metadata"]["name"] for r in runs]
    assert {r["status"]["phase"] for r in runs} == {"Successful"}
    assert {m[1:] for m in measurements(scenario)} == {("Successful", '"pass"')}
    assert canary_weight(scenario) == 0  # promoted: all on the new stable
    # canarygate recorded who asked, at which weight, and what it said.
    caller = f"system:serviceaccount:{scenario.namespace}:canarygate-verdicts"
    answers = wait_until(
        "Argo Rollouts' last answer in the gate's status",
        lambda: (
            [
                c
                for c in callers_of(scenario, "checkout")
                if c["name"] == caller and c["weight"] == 50
            ]
            or None
        ),
        timeout=60,
    )
    assert answers[0]["verdict"] == "pass"
    assert answers[0]["via"] == "api"
    assert scenario.status("checkout")["weight"] == 50


def test_a_burning_canary_is_aborted_by_argo_rollouts_on_canarygates_fail(
    scenario: Scenario, argo: peers.PeerProcess
) -> None:
    simulator = prepare(scenario)
    wait_until(
        "the first revision Healthy", lambda: healthy_on(scenario, f"{IMAGE}:1"), timeout=180
    )
    simulator.set_faults(errorRatio=0.5)  # the new revision fails half its requests
    release(scenario, f"{IMAGE}:2")
    wait_until(
        "Argo Rollouts to send 20 % to the canary",
        lambda: canary_weight(scenario) == 20,
        timeout=120,
    )

    def aborted() -> dict[str, Any] | None:
        status = rollout_status(scenario)
        return status if status.get("abort") and status.get("phase") == "Degraded" else None

    status = wait_until("Argo Rollouts to abort the Rollout", aborted, timeout=240, interval=1)
    assert "failed" in str(status.get("message", "")).lower() or status.get("abort")
    runs = items(scenario, "analysisruns")
    assert [r["status"]["phase"] for r in runs] == ["Failed"]
    assert ("Failed", "Failed", '"fail"') in measurements(scenario)
    # Argo Rollouts put every request back on stable; canarygate wrote no route.
    wait_until("all traffic back on stable", lambda: canary_weight(scenario) == 0, timeout=60)
    route = get(scenario, "virtualservice/checkout")
    managers = {m.get("manager") for m in route["metadata"].get("managedFields") or []}
    assert "canarygate" not in managers
    caller = f"system:serviceaccount:{scenario.namespace}:canarygate-verdicts"
    failed = wait_until(
        "the fail answered to Argo Rollouts in the gate's status",
        lambda: (
            [
                c
                for c in callers_of(scenario, "checkout")
                if c["name"] == caller and c["verdict"] == "fail" and c["weight"] == 20
            ]
            or None
        ),
        timeout=60,
    )
    assert failed
    scenario.wait_event("checkout", "VerdictChanged", timeout=10)
