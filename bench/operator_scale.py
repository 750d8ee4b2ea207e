"""Benchmark: the operator with N CanaryGates (default 10,000) on the local control plane.

Creates N HTTPRoutes and N CanaryGates (one route each) in a fresh namespace, one traffic
simulator and one Prometheus for all of them (every gate asks the same journey queries, as
canaries of many services gate on the same customer journeys), then starts
`canarygate run` as its own process and reports:

- ready: seconds from start until /readyz answers 200 (every gate listed and scheduled);
- started: seconds until every gate's rollout has started (status.phase set: finalizer added,
  original routing saved, canary at 0 %);
- first step: seconds until every gate has taken its first step (status.weight > 0);
- the operator's peak and final RSS and CPU seconds, and its own metrics (ticks, lag).

Run by hand (minutes, heavy), not in CI:

    python -m bench.operator_scale [--gates 10000] [--interval 1m] [--observe 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from lab.stage import start_operator, start_simulator, start_targeted_prometheus

REPO = Path(__file__).resolve().parents[1]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
SELECTOR = 'scenario="scale"'


def route(name: str, namespace: str) -> Any:
    return HTTPRoute(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec={
            "parentRefs": [{"name": "public"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": f"{name}-stable", "port": 80, "weight": 100},
                        {"name": f"{name}-canary", "port": 80, "weight": 0},
                    ]
                }
            ],
        },
    )


def gate(name: str, namespace: str, interval: str) -> Any:
    window = "[{{window}}]"
    return CanaryGate(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec={
            "risk": {"level": "low"},
            "journeys": [
                {
                    "name": journey,
                    "objective": 99.0,
                    "sli": {
                        "good": f'sum(rate(http_requests_total{{{SELECTOR},journey="{journey}",'
                        f'code!~"5.."}}{window}))',
                        "total": f'sum(rate(http_requests_total{{{SELECTOR},journey="{journey}"}}'
                        f"{window}))",
                    },
                }
                for journey in ("login", "checkout", "search")
            ],
            "canary": {
                "revision": "v1",
                "traffic": {
                    "provider": "gatewayAPI",
                    "gatewayAPI": {
                        "httpRoute": name,
                        "stableBackend": f"{name}-stable",
                        "canaryBackend": f"{name}-canary",
                    },
                },
                "steps": [5, 10, 25, 50],
                "interval": interval,
            },
        },
    )


async def create_all(client: AsyncClient, objects: list[Any], concurrency: int = 32) -> float:
    started = time.monotonic()
    limit = asyncio.Semaphore(concurrency)

    async def create(obj: Any) -> None:
        async with limit:
            await client.create(obj)

    await asyncio.gather(*(create(obj) for obj in objects))
    return time.monotonic() - started


async def phases(client: AsyncClient, namespace: str) -> tuple[int, int]:
    """How many gates have started, and how many have moved past 0 %."""
    started = stepped = 0
    async for item in client.list(CanaryGate, namespace=namespace, chunk_size=500):
        status = item.get("status") or {}
        started += bool(status.get("revision"))
        stepped += (status.get("weight") or 0) > 0
    return started, stepped


def process_figures(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    stat = Path(f"/proc/{pid}/stat").read_text().split()
    ticks = 100.0
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "peak_rss_mb": int(fields["VmHWM"].split()[0]) / 1024,
        "cpu_seconds": (int(stat[13]) + int(stat[14])) / ticks,
    }


def cluster_with_crd() -> Path:
    """Start (or reuse) the local control plane and apply the CRD; its kubeconfig."""
    up = subprocess.run(
        [sys.executable, str(REPO / "e2e" / "cluster" / "up")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    kubeconfig = Path(up.stdout.strip().splitlines()[-1])
    subprocess.run(
        [_kubectl(kubeconfig), f"--kubeconfig={kubeconfig}", "apply", "--server-side",
         "--force-conflicts", f"--filename={CRD}"], check=True, capture_output=True,
    )  # fmt: skip
    return kubeconfig


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kubeconfig = await asyncio.to_thread(cluster_with_crd)
    client = AsyncClient(KubeConfig.from_file(kubeconfig), field_manager="bench")
    namespace = f"scale-{uuid.uuid4().hex[:6]}"
    await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
    logs = Path(tempfile.mkdtemp(prefix="canarygate-scale-"))
    figures: dict[str, Any] = {"gates": args.gates, "interval": args.interval, "logs": str(logs)}
    prometheus = start_targeted_prometheus()
    simulator = start_simulator(
        "scale", kubeconfig=kubeconfig, namespace=namespace, provider="static", log_dir=logs
    )
    operator = None
    try:
        prometheus.add_target(simulator.address, scenario="scale")
        prometheus.wait_scraped(f"{{{SELECTOR}}}")
        names = [f"gate-{i:05d}" for i in range(args.gates)]
        print(f"creating {args.gates} HTTPRoutes and CanaryGates in {namespace}...", flush=True)
        figures["create_routes_s"] = await create_all(client, [route(n, namespace) for n in names])
        figures["create_gates_s"] = await create_all(
            client, [gate(n, namespace, args.interval) for n in names]
        )
        print(f"created in {figures['create_routes_s']:.1f} s + {figures['create_gates_s']:.1f} s")
        started = time.monotonic()
        operator = start_operator(
            kubeconfig=kubeconfig, prometheus=prometheus.url, log_dir=logs, wait=False,
            extra=["--log-level=warning"],
        )  # fmt: skip
        operator.wait_ready(timeout=600)
        figures["ready_s"] = time.monotonic() - started
        print(f"ready after {figures['ready_s']:.1f} s", flush=True)
        peak: dict[str, float] = {}
        deadline = started + args.observe
        while time.monotonic() < deadline:
            count_started, count_stepped = await phases(client, namespace)
            elapsed = time.monotonic() - started
            if count_started == args.gates and "all_started_s" not in figures:
                figures["all_started_s"] = elapsed
            if count_stepped == args.gates and "all_first_step_s" not in figures:
                figures["all_first_step_s"] = elapsed
            peak = process_figures(operator.process.pid)
            print(
                f"t={elapsed:6.1f}s started={count_started} stepped={count_stepped} "
                f"rss={peak['rss_mb']:.0f}MB cpu={peak['cpu_seconds']:.1f}s",
                flush=True,
            )
            if "all_first_step_s" in figures and elapsed > figures["all_first_step_s"] + 30:
                break
            await asyncio.sleep(5)
        figures.update(peak)
        figures["operator_metrics"] = _interesting(operator.metrics())
    finally:
        if operator is not None:
            operator.stop()
        simulator.stop()
        prometheus.stop()
        await client.delete(Namespace, namespace)
        await client.close()
    return figures


def _kubectl(kubeconfig: Path) -> str:
    env = kubeconfig.parent / "cluster.env"
    for line in env.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "CANARYGATE_KUBECTL":
            return value
    return "kubectl"


def _interesting(metrics: str) -> dict[str, float]:
    wanted = (
        "canarygate_gates_due_total", "canarygate_queries_planned_total",
        "canarygate_queries_distinct_total", "canarygate_prometheus_requests_total",
        "canarygate_tick_evaluation_seconds_count", "canarygate_tick_evaluation_seconds_sum",
        "canarygate_schedule_lag_seconds",
    )  # fmt: skip
    found: dict[str, float] = {}
    for line in metrics.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            found[name] = float(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=10_000)
    parser.add_argument("--interval", default="1m")
    parser.add_argument("--observe", type=float, default=600.0, help="seconds to watch at most")
    figures = asyncio.run(run(parser.parse_args()))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
