"""Benchmark: the operator's steady state with N gates at a 30 s interval.

N HTTPRoutes and N CanaryGates in the local control plane (kwok, no real pods), each gate
with 3 journeys drawn from the fixture's shared set and a canary guardrail, as in the
evaluation benchmark; the operator (`bench.operator_process`: the real operator, its clock
pinned to the end of the fixture Prometheus's 31 days of history) evaluates them every 30 s.
Every gate holds for ever (the matrix says hold in every cell), so each keeps being evaluated:
the worst steady state, with no gate finished and off the scheduler. It prints:

- time from start to every gate evaluated once, and to ready;
- over a steady window of several intervals: operator CPU (cores), peak RSS, evaluations and
  ticks, tick duration, the largest lag behind schedule, Kubernetes writes per minute,
  Prometheus requests per tick.

    python -m bench.operator_steady [--gates 1000] [--interval 30s] [--steady 180] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from bench.operator_scale import cluster_with_crd, create_all, process_figures, route
from lab.fixture_prometheus import start_fixture_prometheus
from lab.gates import error_rate_guardrail, sli
from lab.histories import JOURNEYS, LATENCIES
from lab.prometheus import free_port
from lab.stage import Operator, _spawn

CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")
POOL = [j.journey for j in JOURNEYS] + [latency.journey for latency in LATENCIES]
APPS = ["steady", "checkout", "trickle"]  # canaries whose guardrail never fails
HOLD_EVERYWHERE = {
    "matrix": {
        "green": {"low": "hold", "high": "hold"},
        "yellow": {"low": "hold", "high": "hold"},
    }
}


def gate(name: str, namespace: str, interval: str, chooser: random.Random) -> Any:
    journeys = [
        {"name": journey, "objective": 99.5, "sli": sli(journey)}
        for journey in chooser.sample(POOL, 3)
    ]
    return CanaryGate(
        metadata=ObjectMeta(name=name, namespace=namespace),
        spec={
            "risk": {"level": "low"},
            "journeys": journeys,
            "policy": HOLD_EVERYWHERE,
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
                "guardrails": [error_rate_guardrail(chooser.choice(APPS))],
            },
        },
    )


def _profile(operator: Operator, path: str | None, seconds: float) -> Any:
    """py-spy (if asked for and installed) sampling the operator over the steady window,
    as folded stacks: `--profile out.txt`."""
    if not path:
        return None
    return subprocess.Popen(
        ["py-spy", "record", "--format", "raw", "--output", path, "--rate", "50",
         "--duration", str(int(seconds)), "--pid", str(operator.process.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def metrics(operator: Operator) -> dict[str, float]:
    """The operator's counters and gauges, summed over labels."""
    found: dict[str, float] = {}
    for line in operator.metrics().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_and_labels, _, value = line.rpartition(" ")
        name = name_and_labels.split("{", 1)[0]
        labels = name_and_labels[len(name) :]
        key = name + ("" if "verb=" not in labels else labels)
        found[key] = found.get(key, 0.0) + float(value)
    return found


async def evaluated(client: AsyncClient, namespace: str) -> int:
    count = 0
    async for item in client.list(CanaryGate, namespace=namespace, chunk_size=500):
        count += bool((item.get("status") or {}).get("health"))
    return count


async def run(args: argparse.Namespace) -> dict[str, Any]:
    kubeconfig = await asyncio.to_thread(cluster_with_crd)
    prometheus = await asyncio.to_thread(start_fixture_prometheus)
    # Long timeouts: listing thousands of gates on an API server sharing two cores with the
    # operator under test can take more than lightkube's default.
    client = AsyncClient(
        KubeConfig.from_file(kubeconfig), field_manager="bench", timeout=httpx2.Timeout(120)
    )
    namespace = f"steady-{uuid.uuid4().hex[:6]}"
    await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
    logs = Path(tempfile.mkdtemp(prefix="canarygate-steady-"))
    figures: dict[str, Any] = {"gates": args.gates, "interval": args.interval}
    operator: Operator | None = None
    try:
        names = [f"gate-{i:05d}" for i in range(args.gates)]
        chooser = random.Random(7)
        print(f"creating {args.gates} routes and gates in {namespace}...", flush=True)
        await create_all(client, [route(n, namespace) for n in names])
        await create_all(client, [gate(n, namespace, args.interval, chooser) for n in names])
        health, metrics_port = free_port(), free_port()
        spawned = _spawn(
            "operator",
            ["-m", "bench.operator_process", f"--kubeconfig={kubeconfig}",
             f"--prometheus={prometheus.url}", f"--namespace={namespace}",
             f"--health-address=127.0.0.1:{health}",
             f"--metrics-address=127.0.0.1:{metrics_port}"],
            logs,
        )  # fmt: skip
        operator = Operator(
            spawned.name, spawned.process, spawned.log_path,
            f"http://127.0.0.1:{health}", f"http://127.0.0.1:{metrics_port}",
        )  # fmt: skip
        started = time.monotonic()
        operator.wait_ready(timeout=600)
        figures["ready_s"] = round(time.monotonic() - started, 1)
        while (done := await evaluated(client, namespace)) < args.gates:
            print(f"t={time.monotonic() - started:6.0f}s evaluated once: {done}", flush=True)
            await asyncio.sleep(10)
        figures["all_evaluated_once_s"] = round(time.monotonic() - started, 1)
        print(f"all evaluated once after {figures['all_evaluated_once_s']} s", flush=True)
        # Let the start's writes and the first evaluations settle into the steady rhythm.
        await asyncio.sleep(args.settle)
        before = metrics(operator)
        cpu_before, t_before = process_figures(operator.process.pid), time.monotonic()
        profiler = _profile(operator, args.profile, args.steady)
        max_lag = 0.0
        while time.monotonic() - t_before < args.steady:
            await asyncio.sleep(5)
            max_lag = max(max_lag, metrics(operator).get("canarygate_schedule_lag_seconds", 0.0))
        after, cpu_after = metrics(operator), process_figures(operator.process.pid)
        if profiler is not None:
            profiler.wait()
        elapsed = time.monotonic() - t_before

        def delta(name: str) -> float:
            return after.get(name, 0.0) - before.get(name, 0.0)

        ticks = delta("canarygate_tick_evaluation_seconds_count")
        writes = sum(
            delta(f'canarygate_kube_requests_total{{verb="{verb}"}}')
            for verb in ("patch", "update", "create")
        )
        figures.update(
            steady_seconds=round(elapsed),
            cpu_cores=round((cpu_after["cpu_seconds"] - cpu_before["cpu_seconds"]) / elapsed, 3),
            peak_rss_mb=round(cpu_after["peak_rss_mb"], 1),
            evaluations_per_minute=round(delta("canarygate_decisions_total") * 60 / elapsed),
            ticks=int(ticks),
            mean_tick_seconds=round(
                delta("canarygate_tick_evaluation_seconds_sum") / ticks, 3
            ) if ticks else None,
            max_lag_seconds=round(max_lag, 3),
            kube_writes_per_minute=round(writes * 60 / elapsed, 1),
            prometheus_requests_per_tick=round(
                delta("canarygate_prometheus_requests_total") / ticks, 1
            ) if ticks else None,
            queries_planned_per_minute=round(
                delta("canarygate_queries_planned_total") * 60 / elapsed
            ),
        )  # fmt: skip
    finally:
        if operator is not None:
            operator.stop()
        prometheus.stop()
        await client.delete(Namespace, namespace)
        await client.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=1000)
    parser.add_argument("--interval", default="30s")
    parser.add_argument("--steady", type=float, default=180.0, help="seconds measured")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before measuring")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="py-spy folded stacks of the window")
    figures = asyncio.run(run(parser.parse_args()))
    if parser.parse_args().json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:32} {value}")


if __name__ == "__main__":
    main()
