"""Smoke tests: the cluster under the e2e suite is real and the traffic loop closes.

They run unchanged on the local control plane (e2e/cluster/up) and on kind.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import Pod
from lightkube.types import PatchType

from lab.prometheus import RunningPrometheus
from tests.e2e.helpers import Cluster, SimulatedTraffic, query, wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")


def test_api_server_is_healthy(cluster: Cluster) -> None:
    assert cluster.kubectl("get", "--raw=/readyz").strip() == "ok"
    assert cluster.kubectl("get", "--raw=/livez").strip() == "ok"


def test_canarygate_crd_applies_and_prints_its_columns(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--filename={CRD}")
    cluster.wait_crds_established("canarygates.canarygate.io")
    gate = f"""\
apiVersion: canarygate.io/v1alpha1
kind: CanaryGate
metadata: {{name: smoke, namespace: {namespace}}}
spec:
  journeys:
    - name: checkout
      objective: 99.9
      sli:
        good: sum(rate(http_requests_total{{journey="checkout",code!~"5.."}}[{{{{window}}}}]))
        total: sum(rate(http_requests_total{{journey="checkout"}}[{{{{window}}}}]))
  canary:
    traffic:
      provider: gatewayAPI
      gatewayAPI: {{httpRoute: journeys, stableBackend: journeys-stable,
                   canaryBackend: journeys-canary}}
    steps: [10, 50, 100]
"""
    # A CRD is served a moment after it is Established; retry the first create briefly.
    wait_until(
        "the CanaryGate to be accepted",
        lambda: cluster.kubectl("apply", "--filename=-", stdin=gate, check=False) or None,
        timeout=30,
    )
    table = cluster.kubectl("get", "canarygates", f"--namespace={namespace}")
    header = table.splitlines()[0].split()
    assert header == [
        "NAME", "HEALTH", "RISK", "ACTION", "WEIGHT", "PHASE", "WAITING", "ENFORCEMENT", "AGE",
    ]  # fmt: skip
    assert table.splitlines()[1].split()[0] == "smoke"


def test_deployment_pods_become_running(cluster: Cluster, namespace: str) -> None:
    labels = {"app": "smoke-web"}
    deployment = Deployment(
        metadata=ObjectMeta(name="smoke-web", namespace=namespace),
        spec=DeploymentSpec(
            replicas=2,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                spec=PodSpec(
                    containers=[Container(name="web", image="registry.k8s.io/pause:3.10")]
                ),
            ),
        ),
    )
    cluster.client.create(deployment)

    def running_pods() -> list[Pod] | None:
        pods = list(cluster.client.list(Pod, namespace=namespace, labels={"app": "smoke-web"}))
        running = [p for p in pods if p.status is not None and p.status.phase == "Running"]
        return running if len(running) == 2 else None

    pods = wait_until("2 Running pods of the Deployment", running_pods, timeout=120)
    assert all(p.spec is not None and p.spec.nodeName for p in pods), "pods were scheduled"

    def available() -> bool:
        live = cluster.client.get(Deployment, "smoke-web", namespace=namespace)
        return live.status is not None and live.status.availableReplicas == 2

    wait_until("the Deployment to report 2 available replicas", available, timeout=60)


def route_manifest(name: str, namespace: str, stable: int, canary: int) -> Any:
    return HTTPRoute(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec={
            "parentRefs": [{"name": "gateway"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": f"{name}-stable", "port": 80, "weight": stable},
                        {"name": f"{name}-canary", "port": 80, "weight": canary},
                    ]
                }
            ],
        },
    )


def backend_weights(route: Any) -> list[int]:
    return [ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]]


def test_httproute_is_created_and_patched(cluster: Cluster, namespace: str) -> None:
    cluster.client.create(route_manifest("smoke-route", namespace, 100, 0))
    patch = [
        {"op": "replace", "path": "/spec/rules/0/backendRefs/1/weight", "value": 30},
        {"op": "replace", "path": "/spec/rules/0/backendRefs/0/weight", "value": 70},
    ]
    cluster.client.patch(
        HTTPRoute, "smoke-route", patch, namespace=namespace, patch_type=PatchType.JSON
    )
    live = cluster.client.get(HTTPRoute, "smoke-route", namespace=namespace)
    assert backend_weights(live) == [70, 30]


def canary_share(prometheus: RunningPrometheus, window: str = "5s") -> float | None:
    return query(
        prometheus,
        f'sum(rate(http_requests_total{{version="canary"}}[{window}]))'
        f" / sum(rate(http_requests_total[{window}]))",
    )


def test_simulated_canary_share_follows_the_route_weight(
    cluster: Cluster, simulator: SimulatedTraffic, prometheus: RunningPrometheus
) -> None:
    route = route_manifest(simulator.route, simulator.namespace, 100, 0)
    cluster.client.create(route)
    weight_gauge = "max(canarygate_simulator_canary_weight_percent)"
    source_up = "max(canarygate_simulator_weight_source_up)"
    wait_until("the simulator to read the route", lambda: query(prometheus, source_up) == 1.0)
    wait_until(
        "the canary share to settle at 0",
        lambda: (share := canary_share(prometheus)) is not None and share == 0.0,
        timeout=60,
    )

    patch = {
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"name": simulator.stable, "port": 80, "weight": 70},
                        {"name": simulator.canary, "port": 80, "weight": 30},
                    ]
                }
            ]
        }
    }
    cluster.client.patch(
        HTTPRoute, simulator.route, patch, namespace=simulator.namespace, patch_type=PatchType.MERGE
    )
    wait_until("the simulator to apply weight 30", lambda: query(prometheus, weight_gauge) == 30.0)
    share = wait_until(
        "the canary share of the request rate to converge near 0.3",
        lambda: (s := canary_share(prometheus)) is not None and abs(s - 0.3) <= 0.02 and s,
        timeout=90,
    )
    assert share == pytest.approx(0.3, abs=0.02)
