"""Benchmark: how fast and how lean GateInformer lists N CanaryGates from a real API server.

Creates N CanaryGates (default 10,000) in a fresh namespace, concurrently and in batches,
then runs the informer in a child process (so that creating the objects does not count)
and reports the time to the first Synced and the child's peak RSS, then deletes the
namespace. Run by hand, not in CI:

    python -m bench.informer [--gates 10000] [--kubeconfig PATH]

Without --kubeconfig or $KUBECONFIG it starts (or reuses) the local control plane with
e2e/cluster/up, and stops it at the end only if it was not running before.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from canarygate.kube import GateInformer, InformerEvent, Synced, Upsert, connect
from lab import crds
from lab.kubectl import find_kubectl

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
CLUSTER = REPO / "e2e" / "cluster"
CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")

SPEC: dict[str, Any] = {
    "journeys": [
        {
            "name": "checkout",
            "objective": 99.9,
            "sli": {
                "good": 'sum(rate(http_requests_total{code!~"5.."}[{{window}}]))',
                "total": "sum(rate(http_requests_total[{{window}}]))",
            },
        }
    ],
    "canary": {
        "traffic": {
            "provider": "gatewayAPI",
            "gatewayAPI": {"httpRoute": "r", "stableBackend": "s", "canaryBackend": "c"},
        },
        "steps": [5, 10, 25, 50, 100],
    },
}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# The child: run the informer until its first Synced --------------------------------------


async def measure(kubeconfig: str, namespace: str | None) -> dict[str, Any]:
    baseline = peak_rss_mb()  # interpreter + imports, before any gate
    records: dict[tuple[str, str], str] = {}  # what a consumer keeps: a compact record
    synced: list[int] = []

    def on_event(event: InformerEvent) -> None:
        if isinstance(event, Upsert):
            metadata = event.body["metadata"]
            records[(metadata["namespace"], metadata["name"])] = metadata["resourceVersion"]
        elif isinstance(event, Synced):
            synced.append(len(event.keys))

    async with connect(kubeconfig) as api:
        informer = GateInformer(api, None if namespace is None else [namespace], on_event)
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        task = asyncio.create_task(informer.run())
        await informer.synced.wait()
        elapsed = time.perf_counter() - started
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        informer.stop()
        await task
        return {
            "gates": synced[0],
            "records": len(records),
            "synced_seconds": round(elapsed, 2),
            "cpu_seconds": round(
                cpu_after.ru_utime - cpu_before.ru_utime + cpu_after.ru_stime - cpu_before.ru_stime,
                2,
            ),
            "list_requests": api.stats.requests["list"],
            "baseline_rss_mb": round(baseline, 1),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }


# The parent: cluster, CRD, gates, child, cleanup -----------------------------------------


def kubectl_for(kubeconfig: Path) -> str:
    found = find_kubectl(kubeconfig)
    if found is None:
        raise SystemExit("bench: no kubectl (set CANARYGATE_KUBECTL or put kubectl on PATH)")
    return found


def kubectl(kubeconfig: Path, *args: str) -> str:
    return subprocess.run(
        [kubectl_for(kubeconfig), f"--kubeconfig={kubeconfig}", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


async def create_gates(
    kubeconfig: Path, namespace: str, count: int, batch: int, concurrency: int
) -> float:
    started = time.perf_counter()
    async with AsyncClient(KubeConfig.from_file(kubeconfig), field_manager="bench") as client:
        await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
        bound = asyncio.Semaphore(concurrency)

        async def one(index: int) -> None:
            gate = CanaryGate(
                metadata=ObjectMeta(name=f"gate-{index:05d}", namespace=namespace), spec=SPEC
            )
            async with bound:
                for attempt in range(5):  # the CRD may be served a moment after Established
                    try:
                        await client.create(gate)
                        return
                    except Exception:
                        if attempt == 4:
                            raise
                        await asyncio.sleep(0.5 * (attempt + 1))

        for start in range(0, count, batch):
            await asyncio.gather(*(one(i) for i in range(start, min(count, start + batch))))
            done = min(count, start + batch)
            print(f"  created {done}/{count} ({time.perf_counter() - started:.0f}s)", flush=True)
    return time.perf_counter() - started


def cluster_kubeconfig(given: str | None) -> tuple[Path, bool]:
    """The kubeconfig to use, and whether this run started the local control plane."""
    if given or (given := os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]):
        return Path(given), False
    status = [sys.executable, str(CLUSTER / "status")]
    running = subprocess.run(status, capture_output=True, check=False)
    up = subprocess.run(
        [sys.executable, str(CLUSTER / "up")], stdout=subprocess.PIPE, text=True, check=True
    )
    return Path(up.stdout.strip().splitlines()[-1]), running.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--kubeconfig")
    parser.add_argument("--measure", metavar="NAMESPACE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:  # the child
        print(json.dumps(asyncio.run(measure(args.kubeconfig, args.measure))))
        return 0

    kubeconfig, started_cluster = cluster_kubeconfig(args.kubeconfig)
    namespace = f"canarygate-bench-{uuid.uuid4().hex[:6]}"
    try:
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", f"--filename={CRD}")
        crds.wait_established(lambda *a: kubectl(kubeconfig, *a), ["canarygates.canarygate.io"])
        print(f"creating {args.gates} CanaryGates in {namespace}", flush=True)
        took = asyncio.run(
            create_gates(kubeconfig, namespace, args.gates, args.batch, args.concurrency)
        )
        print(f"created in {took:.1f}s; measuring the informer in a child process", flush=True)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.informer",
                f"--kubeconfig={kubeconfig}",
                f"--measure={namespace}",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            check=True,
        )
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        print(json.dumps(figures, indent=2))
        if figures["gates"] != args.gates:
            print(f"bench: expected {args.gates} gates, Synced listed {figures['gates']}")
            return 1
        return 0
    finally:
        kubectl(kubeconfig, "delete", "namespace", namespace, "--wait=false", "--ignore-not-found")
        print(f"namespace {namespace} deletion requested", flush=True)
        if started_cluster:
            subprocess.run([sys.executable, str(CLUSTER / "down")], check=False)


if __name__ == "__main__":
    sys.exit(main())
