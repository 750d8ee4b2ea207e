"""Smoke check of the peers on a cluster: each one built by the project's scripts, its CRDs
installed, the controller run out of cluster, and one object taken through a release.

- flagger: a Deployment and a Canary with the Gateway API provider (gatewayapi:v1) and one
  MetricTemplate asking the real Prometheus for the canary's error ratio, as the traffic
  simulator serves it while following the HTTPRoute Flagger made. Flagger must initialize the
  Canary (primary Deployment Ready thanks to kwok, Services and the HTTPRoute created), then,
  after a new revision of the Deployment, shift weight to the canary in the HTTPRoute (seen by
  the simulator) and promote it (phase Succeeded, the primary running the new template).
- argo-rollouts: a Rollout (canary strategy, replica ratio: setWeight 50, a 5 s pause) must
  become Healthy, then take a new image through its steps to Healthy on the new ReplicaSet.

    python -m lab.peer_smoke [flagger] [argo-rollouts] [--keep]

Uses $KUBECONFIG, else starts (or reuses) the local control plane. Exit 0 when every peer
asked for passed; 1 with the reason, the peer's log tail and the objects otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab import peers
from lab.stage import StageError, start_simulator, start_targeted_prometheus, wait_for

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 300.0  # generous: the machine is shared


def cluster() -> Path:
    if env := os.environ.get("KUBECONFIG"):
        return Path(env)
    up = subprocess.run(
        [sys.executable, str(REPO / "e2e" / "cluster" / "up")],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return Path(up.stdout.strip().splitlines()[-1])


def say(message: str) -> None:
    print(f"[peer-smoke] {message}", flush=True)


def get(kubeconfig: Path, namespace: str, *what: str) -> Any:
    return json.loads(peers.kubectl(kubeconfig, "get", "-n", namespace, "-o", "json", *what))


def wait(what: str, probe: Callable[[], bool]) -> None:
    started = time.monotonic()
    wait_for(what, probe, timeout=TIMEOUT, interval=1.0)
    say(f"{what}: after {time.monotonic() - started:.0f} s")


def _deployment(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
        },
    }


def smoke_flagger(kubeconfig: Path, namespace: str, logs: Path) -> None:
    peers.install_crds(peers.FLAGGER, kubeconfig)
    prometheus = start_targeted_prometheus()
    flagger = simulator = None
    try:
        selector = f'scenario="{namespace}"'
        error_ratio = (
            f'sum(rate(http_requests_total{{{selector},version="canary",code=~"5.."}}[10s])) / '
            f'sum(rate(http_requests_total{{{selector},version="canary"}}[10s]))'
        )
        objects = [
            _deployment("app", "example.invalid/app:1"),
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "MetricTemplate",
                "metadata": {"name": "canary-errors"},
                "spec": {
                    "provider": {"type": "prometheus", "address": prometheus.url},
                    "query": error_ratio,
                },
            },
            {
                "apiVersion": "flagger.app/v1beta1",
                "kind": "Canary",
                "metadata": {"name": "app"},
                "spec": {
                    "provider": "gatewayapi:v1",
                    "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "app"},
                    "service": {
                        "port": 8080,
                        "gatewayRefs": [{"name": "public", "namespace": namespace}],
                    },
                    "analysis": {
                        "interval": "10s",
                        "threshold": 3,
                        "stepWeight": 25,
                        "maxWeight": 50,
                        "metrics": [
                            {
                                "name": "canary-errors",
                                "templateRef": {"name": "canary-errors"},
                                "thresholdRange": {"max": 0.01},
                            }
                        ],
                    },
                },
            },
        ]
        manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
        peers.kubectl(kubeconfig, "apply", "-n", namespace, "--filename=-", stdin=manifest)
        flagger = peers.start_flagger(
            kubeconfig=kubeconfig, prometheus=prometheus.url, log_dir=logs, namespace=namespace
        )
        say(f"flagger {peers.FLAGGER.version} running (pid {flagger.process.pid})")

        def phase() -> str:
            return str(get(kubeconfig, namespace, "canary/app").get("status", {}).get("phase"))

        def primary_ready() -> bool:
            status = get(kubeconfig, namespace, "deployment/app-primary").get("status", {})
            return bool(status.get("readyReplicas") == 1)

        wait("the Canary Initialized", lambda: phase() == "Initialized")
        if not primary_ready():
            raise StageError("Initialized, but the primary Deployment is not Ready")
        route = get(kubeconfig, namespace, "httproute/app")
        backends = [ref["name"] for ref in route["spec"]["rules"][0]["backendRefs"]]
        if backends != ["app-primary", "app-canary"]:
            raise StageError(f"unexpected HTTPRoute backends {backends}")
        say(f"initialized: app-primary Ready, HTTPRoute app -> {backends}")

        simulator = start_simulator(
            namespace, kubeconfig=kubeconfig, namespace=namespace, provider="gatewayAPI",
            obj="app", stable="app-primary", canary="app-canary", log_dir=logs,
        )  # fmt: skip
        prometheus.add_target(simulator.address, scenario=namespace)
        prometheus.wait_scraped(f"{{{selector}}}")

        peers.kubectl(
            kubeconfig,
            "-n",
            namespace,
            "set",
            "image",
            "deployment/app",
            "app=example.invalid/app:2",
        )
        seen: set[float] = set()

        def canary_weight() -> float:
            value = prometheus.query(
                f"max(canarygate_simulator_canary_weight_percent{{{selector}}})"
            )
            seen.add(value or 0.0)
            return value or 0.0

        wait(
            "the simulator to see canary weight in Flagger's HTTPRoute", lambda: canary_weight() > 0
        )
        # Keep sampling the weight the simulator follows while Flagger steps and promotes.
        wait("the Canary Succeeded", lambda: canary_weight() >= 0 and phase() == "Succeeded")
        image = get(kubeconfig, namespace, "deployment/app-primary")["spec"]["template"]["spec"][
            "containers"
        ][0]["image"]
        if image != "example.invalid/app:2":
            raise StageError(f"promoted, but app-primary runs {image}")
        say(f"promoted: app-primary runs {image}; canary weights seen: {sorted(seen)}")
    except StageError:
        if flagger is not None:
            say(f"flagger log tail:\n{flagger.log_tail()}")
        raise
    finally:
        for process in (flagger, simulator):
            if process is not None:
                process.stop()
        prometheus.stop()


def smoke_argo_rollouts(kubeconfig: Path, namespace: str, logs: Path) -> None:
    peers.install_crds(peers.ARGO_ROLLOUTS, kubeconfig)
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "app"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "app"}},
            "template": _deployment("app", "example.invalid/app:1")["spec"]["template"],
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "5s"}}]}},
        },
    }
    peers.kubectl(kubeconfig, "apply", "-n", namespace, "--filename=-", stdin=json.dumps(rollout))
    controller = peers.start_argo_rollouts(kubeconfig=kubeconfig, log_dir=logs, namespace=namespace)
    say(f"argo-rollouts {peers.ARGO_ROLLOUTS.version} running (pid {controller.process.pid})")
    try:

        def stable() -> str:
            return str(get(kubeconfig, namespace, "rollout/app")["status"].get("stableRS"))

        phases: list[str] = []

        def healthy_on_current() -> bool:
            item = get(kubeconfig, namespace, "rollout/app")
            status = item.get("status", {})
            if not phases or phases[-1] != status.get("phase"):
                phases.append(str(status.get("phase")))
            return bool(
                status.get("phase") == "Healthy"
                and status.get("observedGeneration") == str(item["metadata"]["generation"])
                and status.get("stableRS")
                and status.get("stableRS") == status.get("currentPodHash")
            )

        wait("the Rollout Healthy", healthy_on_current)
        first = get(kubeconfig, namespace, "rollout/app")["status"]["stableRS"]
        patch = json.dumps(
            [
                {
                    "op": "replace",
                    "path": "/spec/template/spec/containers/0/image",
                    "value": "example.invalid/app:2",
                }
            ]
        )
        peers.kubectl(
            kubeconfig, "-n", namespace, "patch", "rollout/app", "--type=json", f"--patch={patch}"
        )
        wait("the new revision Healthy", lambda: healthy_on_current() and stable() != first)
        if "Paused" not in phases:
            raise StageError(f"the new revision never paused at its step; phases seen: {phases}")
        say(f"promoted: stable ReplicaSet hash {first} -> {stable()}; phases seen: {phases}")
    except StageError:
        say(f"argo-rollouts log tail:\n{controller.log_tail()}")
        raise
    finally:
        controller.stop()


SMOKES = {"flagger": smoke_flagger, "argo-rollouts": smoke_argo_rollouts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peers", nargs="*", metavar="PEER", help="flagger, argo-rollouts (both)")
    parser.add_argument("--keep", action="store_true", help="keep the namespaces")
    args = parser.parse_args()
    unknown = sorted(set(args.peers) - set(SMOKES))
    if unknown:
        parser.error(f"unknown peer {', '.join(unknown)}; choose from {', '.join(SMOKES)}")
    kubeconfig = cluster()
    logs = Path(tempfile.mkdtemp(prefix="canarygate-peer-smoke-"))
    failed = []
    for name in args.peers or list(SMOKES):
        namespace = f"peer-smoke-{name}-{uuid.uuid4().hex[:5]}"
        peers.kubectl(kubeconfig, "create", "namespace", namespace)
        try:
            SMOKES[name](kubeconfig, namespace, logs)
            say(f"{name}: ok")
        except (StageError, peers.PeerError) as error:
            failed.append(name)
            say(f"{name}: FAILED: {error}")
            say(peers.kubectl(kubeconfig, "get", "all,canary,rollout,httproute", "-n", namespace))
        finally:
            if not args.keep:
                peers.kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false")
    say(f"logs in {logs}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
