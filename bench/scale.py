"""Benchmark: N CanaryGates on one operator at a 30 s interval, against the fixture Prometheus.

For each N (default 1,000 then 10,000): N HTTPRoutes and N CanaryGates in a fresh namespace of
the local control plane (kwok: no pods needed), each gate with 3 journeys drawn from the
fixture's 14 (as in `bench.evaluate_many`) and a canary guardrail, and a matrix that holds in
every cell, so every gate is evaluated every interval for ever: the worst steady state. The
real operator runs as its own process (`bench.operator_process`: its evaluation clock pinned
to the end of the fixture's 31 days of history). It prints, per N:

- start: seconds from the operator's start to ready, and to every gate evaluated once (its
  rollout started and its first decision in its status);
- steady state, over `--steady` seconds after `--settle`: operator CPU (cores), peak RSS (the
  whole run, start included) and RSS per gate above an idle operator's, tick duration, lag
  behind schedule and ticks late (started more than 1 s after their earliest gate was due),
  Kubernetes writes per minute, Prometheus requests per tick and per minute, slow-window
  queries answered from earlier readings, Prometheus CPU (cores);
- then one table with a column per N and, for two sizes, how each figure grew against the
  number of gates (1.0: linear).

Minutes per 1,000 gates (creating, starting and deleting them is bound by the API server).
Run by hand, not in CI:

    python -m bench.scale [--gates 1000,10000] [--steady 120] [--settle 30] [--json PATH]
        [--no-window-cache] [--profile PREFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from lightkube import AsyncClient, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from bench.operator_scale import REPO, cluster_with_crd, create_all, process_figures, route
from lab.fixture_prometheus import start_fixture_prometheus
from lab.gates import error_rate_guardrail, sli
from lab.histories import JOURNEYS, LATENCIES
from lab.prometheus import RunningPrometheus, free_port
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
LATE_SECONDS = 1.0  # a tick that starts later than this after its earliest gate was due
SCRAPE_SECONDS = 15.0  # how often the benchmark reads the operator's /metrics


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


# The cluster, and its CRD ------------------------------------------------------------------

CACHE = Path(os.environ.get("CANARYGATE_CACHE", Path.home() / ".cache" / "canarygate"))
PRIVATE_CLUSTER = CACHE / "bench-cluster"


def cluster_script(name: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(REPO / "e2e" / "cluster" / name)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def start_cluster(kind: str) -> tuple[Path, bool]:
    """The kubeconfig of the cluster to measure on, with this branch's CRD, and whether this
    run started it. `private`: a control plane of its own (`CANARYGATE_CLUSTER_DIR`), so that
    nobody else's objects, load or CRD versions end up in the figures; `shared`: the one
    `e2e/cluster/up` gives everyone."""
    if kind == "private":
        os.environ["CANARYGATE_CLUSTER_DIR"] = str(PRIVATE_CLUSTER)
    started = cluster_script("status").returncode != 0
    return cluster_with_crd(), started and kind == "private"


def stop_cluster() -> None:
    """Stop the private control plane this run started (never the shared one)."""
    if os.environ.get("CANARYGATE_CLUSTER_DIR") == str(PRIVATE_CLUSTER):
        cluster_script("down")


class CrdChanged(Exception):
    """Someone applied another CanaryGate CRD during the run: its figures mean nothing."""


async def crd_generation(client: AsyncClient) -> int:
    crd = await client.get(CustomResourceDefinition, "canarygates.canarygate.io")
    return int(crd.metadata.generation or 0) if crd.metadata else 0


async def check_crd(client: AsyncClient, generation: int) -> None:
    now = await crd_generation(client)
    if now != generation:
        raise CrdChanged(
            f"the CanaryGate CRD changed during the run (generation {generation} -> {now}): "
            "someone applied another version; measuring again"
        )


# The operator and what it says about itself ---------------------------------------------


def start_bench_operator(
    kubeconfig: Path,
    prometheus: str,
    namespace: str,
    logs: Path,
    *,
    cache: bool,
    memory_dump: Path | None = None,
) -> Operator:
    health, metrics_port = free_port(), free_port()
    args = [
        "-m", "bench.operator_process", f"--kubeconfig={kubeconfig}",
        f"--prometheus={prometheus}", f"--namespace={namespace}",
        f"--health-address=127.0.0.1:{health}", f"--metrics-address=127.0.0.1:{metrics_port}",
    ]  # fmt: skip
    if not cache:
        args.append("--no-window-cache")
    if memory_dump is not None:
        args.append(f"--memory-dump={memory_dump}")
    spawned = _spawn("operator", args, logs)
    return Operator(
        spawned.name, spawned.process, spawned.log_path,
        f"http://127.0.0.1:{health}", f"http://127.0.0.1:{metrics_port}",
    )  # fmt: skip


def scrape(operator: Operator) -> dict[str, float]:
    """The operator's metrics, summed over labels except a few kept: `verb`, `le`, `health`."""
    found: dict[str, float] = {}
    for line in operator.metrics().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_and_labels, _, value = line.rpartition(" ")
        name, _, labels = name_and_labels.partition("{")
        kept = [
            part
            for part in labels.rstrip("}").split(",")
            if part.startswith(("verb=", "le=")) or (part == 'health="none"')
        ]
        key = name + (f"{{{','.join(kept)}}}" if kept else "")
        found[key] = found.get(key, 0.0) + float(value)
    return found


def evaluated_once(metrics: dict[str, float]) -> int:
    """Gates whose status holds a decision: any health but none (kept apart by `scrape`)."""
    return int(metrics.get("canarygate_gates", 0.0))


def cpu_seconds(pid: int) -> float:
    return process_figures(pid)["cpu_seconds"]


def buckets(metrics: dict[str, float], family: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of a histogram, in order."""
    found = []
    for key, count in metrics.items():
        if key.startswith(f"{family}_bucket{{le="):
            bound = key.split('le="', 1)[1].split('"', 1)[0]
            found.append((float("inf") if bound == "+Inf" else float(bound), count))
    return sorted(found)


def quantile_bound(
    before: dict[str, float], after: dict[str, float], family: str, q: float
) -> float:
    """The smallest bucket bound under which a share `q` of the window's observations fall."""
    earlier = dict(buckets(before, family))
    window = [(bound, count - earlier.get(bound, 0.0)) for bound, count in buckets(after, family)]
    total = window[-1][1] if window else 0.0
    for bound, count in window:
        if total and count >= q * total:
            return bound
    return 0.0


def over(before: dict[str, float], after: dict[str, float], family: str, bound: float) -> int:
    """Observations of the window above `bound` (a bucket bound of `family`)."""
    earlier = dict(buckets(before, family))
    window = {b: c - earlier.get(b, 0.0) for b, c in buckets(after, family)}
    return int(window.get(float("inf"), 0.0) - window.get(bound, 0.0))


# One size -------------------------------------------------------------------------------


@dataclass
class Figures:
    gates: int
    interval_seconds: float
    window_cache: bool
    load_average: list[float] = field(default_factory=list)
    create_seconds: float = 0.0
    ready_seconds: float = 0.0
    all_evaluated_once_seconds: float = 0.0
    steady_seconds: float = 0.0
    operator_cpu_cores: float = 0.0
    prometheus_cpu_cores: float = 0.0
    peak_rss_mb: float = 0.0
    idle_rss_mb: float = 0.0
    rss_kb_per_gate: float = 0.0
    evaluations_per_minute: float = 0.0
    ticks: int = 0
    tick_seconds_mean: float = 0.0
    tick_seconds_p99_at_most: float = 0.0
    lag_seconds_mean: float = 0.0
    lag_seconds_max_at_most: float = 0.0
    ticks_late: int = 0
    evaluations_overrun: int = 0
    rss_at_ready_mb: float = 0.0
    rss_all_evaluated_mb: float = 0.0
    rss_end_mb: float = 0.0
    kube_relists: int = 0

    @property
    def rss_phases(self) -> list[float]:
        return [self.rss_at_ready_mb, self.rss_all_evaluated_mb, self.rss_end_mb]

    ticks_longer_than_interval: int = 0
    kube_writes_per_minute: float = 0.0
    kube_requests_per_minute: float = 0.0
    prometheus_requests_per_tick: float = 0.0
    prometheus_requests_per_minute: float = 0.0
    queries_cached_per_minute: float = 0.0
    slow_windows_reread_per_minute: float = 0.0


async def idle_rss(kubeconfig: Path, prometheus: RunningPrometheus, logs: Path) -> float:
    """RSS of a ready operator watching a namespace without gates: what is not per gate."""
    operator = start_bench_operator(
        kubeconfig, prometheus.url, f"idle-{uuid.uuid4().hex[:6]}", logs, cache=True
    )
    try:
        await asyncio.to_thread(operator.wait_ready, 120)
        await asyncio.sleep(5)
        return process_figures(operator.process.pid)["rss_mb"]
    finally:
        operator.stop()


async def measure(
    args: argparse.Namespace,
    count: int,
    kubeconfig: Path,
    client: AsyncClient,
    prometheus: RunningPrometheus,
    idle_mb: float,
) -> Figures:
    interval = 30.0
    figures = Figures(gates=count, interval_seconds=interval, window_cache=not args.no_window_cache)
    figures.idle_rss_mb = round(idle_mb, 1)
    namespace = f"scale-{uuid.uuid4().hex[:6]}"
    logs = Path(tempfile.mkdtemp(prefix=f"canarygate-scale-{count}-"))
    await asyncio.to_thread(cluster_with_crd)  # this branch's CRD, whoever applied theirs since
    generation = await crd_generation(client)
    await client.create(Namespace(metadata=ObjectMeta(name=namespace)))
    operator: Operator | None = None
    try:
        names = [f"gate-{i:05d}" for i in range(count)]
        chooser = random.Random(7)
        say(f"{count} gates: creating {count} HTTPRoutes and CanaryGates in {namespace}")
        started = time.monotonic()
        await create_all(client, [route(n, namespace) for n in names])
        await create_all(client, [gate(n, namespace, "30s", chooser) for n in names])
        figures.create_seconds = round(time.monotonic() - started, 1)
        await check_crd(client, generation)
        dump = logs / "memory.txt" if args.memory_dump else None
        operator = start_bench_operator(
            kubeconfig, prometheus.url, namespace, logs, cache=not args.no_window_cache,
            memory_dump=dump,
        )  # fmt: skip
        started = time.monotonic()
        await asyncio.to_thread(operator.wait_ready, 600)
        figures.ready_seconds = round(time.monotonic() - started, 1)
        figures.rss_at_ready_mb = round(process_figures(operator.process.pid)["rss_mb"], 1)
        while (done := evaluated_once(scrape(operator))) < count:
            rss = process_figures(operator.process.pid)
            say(
                f"{count} gates: t={time.monotonic() - started:5.0f}s evaluated once: {done}, "
                f"RSS {rss['rss_mb']:.0f} MB (peak {rss['peak_rss_mb']:.0f})"
            )
            await check_crd(client, generation)
            await asyncio.sleep(SCRAPE_SECONDS)
        figures.all_evaluated_once_seconds = round(time.monotonic() - started, 1)
        say(f"{count} gates: all evaluated once after {figures.all_evaluated_once_seconds} s")
        figures.rss_all_evaluated_mb = round(process_figures(operator.process.pid)["rss_mb"], 1)
        if dump is not None:
            operator.process.send_signal(signal.SIGUSR1)
        await asyncio.sleep(args.settle)
        await steady_state(args, figures, operator, prometheus, client, generation)
        figures.peak_rss_mb = round(process_figures(operator.process.pid)["peak_rss_mb"], 1)
        if dump is not None:
            operator.process.send_signal(signal.SIGUSR1)
            await asyncio.sleep(5)
            say(f"{count} gates: heap figures in {dump} and {operator.log_path}")
        figures.rss_kb_per_gate = round((figures.peak_rss_mb - idle_mb) * 1024 / count, 1)
    finally:
        if operator is not None:
            operator.stop()
        await delete(client, namespace, count)
    return figures


async def steady_state(
    args: argparse.Namespace,
    figures: Figures,
    operator: Operator,
    prometheus: RunningPrometheus,
    client: AsyncClient,
    generation: int,
) -> None:
    say(f"{figures.gates} gates: measuring {args.steady:.0f} s of steady state")
    load_before = os.getloadavg()
    before = scrape(operator)
    cpu = cpu_seconds(operator.process.pid)
    prometheus_cpu = cpu_seconds(prometheus.process.pid)
    started = time.monotonic()
    profiler = _profile(operator, args.profile, figures.gates, args.steady)
    while time.monotonic() - started < args.steady:
        await asyncio.sleep(SCRAPE_SECONDS)  # as a Prometheus scraping the operator would
        scrape(operator)
        await check_crd(client, generation)
    after = scrape(operator)
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(operator.process.pid) - cpu
    prometheus_cpu = cpu_seconds(prometheus.process.pid) - prometheus_cpu
    if profiler is not None:
        profiler.wait()
    figures.load_average = [round(x, 2) for x in (*load_before, *os.getloadavg())]

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    per_minute = 60 / elapsed
    ticks = delta("canarygate_tick_duration_seconds_count")
    lags = delta("canarygate_tick_lag_seconds_count")
    verbs = {
        key.split('"')[1]: value - before.get(key, 0.0)
        for key, value in after.items()
        if key.startswith("canarygate_kube_requests_total{")
    }
    writes = sum(verbs.get(verb, 0.0) for verb in ("patch", "update", "create", "delete"))
    requests = sum(verbs.values())
    sent = delta("canarygate_prometheus_requests_total")
    figures.steady_seconds = round(elapsed)
    figures.operator_cpu_cores = round(cpu / elapsed, 3)
    figures.prometheus_cpu_cores = round(prometheus_cpu / elapsed, 3)
    figures.evaluations_per_minute = round(delta("canarygate_decisions_total") * per_minute)
    figures.ticks = int(ticks)
    if ticks:
        figures.tick_seconds_mean = round(delta("canarygate_tick_duration_seconds_sum") / ticks, 3)
        durations = "canarygate_tick_duration_seconds"
        figures.tick_seconds_p99_at_most = quantile_bound(before, after, durations, 0.99)
        figures.ticks_longer_than_interval = over(before, after, durations, 30.0)
        figures.prometheus_requests_per_tick = round(sent / ticks, 1)
    if lags:
        figures.lag_seconds_mean = round(delta("canarygate_tick_lag_seconds_sum") / lags, 3)
        lag = "canarygate_tick_lag_seconds"
        figures.lag_seconds_max_at_most = quantile_bound(before, after, lag, 1.0)
        figures.ticks_late = over(before, after, lag, LATE_SECONDS)
    figures.evaluations_overrun = int(delta("canarygate_evaluations_overrun_total"))
    figures.kube_relists = int(delta("canarygate_kube_relists_total"))
    figures.rss_end_mb = round(process_figures(operator.process.pid)["rss_mb"], 1)
    figures.kube_writes_per_minute = round(writes * per_minute, 1)
    figures.kube_requests_per_minute = round(requests * per_minute, 1)
    figures.prometheus_requests_per_minute = round(sent * per_minute, 1)
    figures.queries_cached_per_minute = round(delta("canarygate_queries_cached_total") * per_minute)
    figures.slow_windows_reread_per_minute = round(
        delta("canarygate_slow_windows_reread_total") * per_minute, 1
    )


async def delete(client: AsyncClient, namespace: str, count: int) -> None:
    """Delete the namespace; with the operator gone, its finalizers are taken off first (the
    routes go with the namespace, so there is nothing to restore)."""
    say(f"{count} gates: deleting namespace {namespace}")
    limit = asyncio.Semaphore(32)

    async def release(name: str) -> None:
        async with limit:
            await client.patch(
                CanaryGate, name, {"metadata": {"finalizers": None}},
                namespace=namespace, patch_type=PatchType.MERGE,
            )  # fmt: skip

    listed = client.list(CanaryGate, namespace=namespace, chunk_size=500)
    names = [str(g["metadata"]["name"]) async for g in listed]
    await asyncio.gather(*(release(n) for n in names))
    await client.delete(Namespace, namespace)


def _profile(operator: Operator, prefix: str | None, count: int, seconds: float) -> Any:
    """py-spy sampling the operator over the steady window, as folded stacks."""
    if not prefix:
        return None
    return subprocess.Popen(
        ["py-spy", "record", "--format", "raw", "--output", f"{prefix}-{count}.txt",
         "--rate", "50", "--duration", str(int(seconds)), "--pid", str(operator.process.pid)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


# Reporting --------------------------------------------------------------------------------

ROWS: list[tuple[str, str, str]] = [
    # (label, attribute, how it should grow with gates: "linear", "flat" or "")
    ("time to ready (s)", "ready_seconds", ""),
    ("time to every gate evaluated once (s)", "all_evaluated_once_seconds", "linear"),
    ("operator CPU, steady (cores)", "operator_cpu_cores", "linear"),
    ("peak RSS, whole run (MB)", "peak_rss_mb", ""),
    ("RSS at ready / all evaluated once / end (MB)", "rss_phases", ""),
    ("RSS above an idle operator, per gate (KB)", "rss_kb_per_gate", "flat"),
    ("evaluations per minute", "evaluations_per_minute", "linear"),
    ("ticks in the window", "ticks", ""),
    ("tick duration, mean (s)", "tick_seconds_mean", ""),
    ("tick duration, 99 % at most (s)", "tick_seconds_p99_at_most", ""),
    ("ticks longer than the interval", "ticks_longer_than_interval", ""),
    ("lag behind schedule, mean (s)", "lag_seconds_mean", ""),
    ("lag behind schedule, max at most (s)", "lag_seconds_max_at_most", ""),
    (f"ticks late (lag > {LATE_SECONDS:g} s)", "ticks_late", ""),
    ("evaluations late (the previous outlasted the interval)", "evaluations_overrun", ""),
    ("Kubernetes writes per minute", "kube_writes_per_minute", "linear"),
    ("Kubernetes requests per minute", "kube_requests_per_minute", "linear"),
    ("complete lists of the gates (relists)", "kube_relists", ""),
    ("Prometheus requests per tick", "prometheus_requests_per_tick", ""),
    ("Prometheus requests per minute", "prometheus_requests_per_minute", ""),
    ("slow-window queries cached per minute", "queries_cached_per_minute", ""),
    ("slow windows read again per minute", "slow_windows_reread_per_minute", ""),
    ("Prometheus CPU, steady (cores)", "prometheus_cpu_cores", ""),
    ("load average (1/5/15 min) before, after", "load_average", ""),
]


def table(results: list[Figures]) -> str:
    sizes = [f"{r.gates:,} gates" for r in results]
    growth = len(results) >= 2 and results[0].gates < results[-1].gates
    header = ["figure", *sizes]
    if growth:
        header.append(f"growth ({sizes[0]} -> {sizes[-1]})")
    ratio = results[-1].gates / results[0].gates
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, attribute, shape in ROWS:
        values = [getattr(r, attribute) for r in results]
        cells = [label, *(_cell(v) for v in values)]
        if growth:
            cells.append(_growth(values[0], values[-1], ratio, shape))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(f"{v:g}" for v in value)
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    return f"{value:,}"


def _growth(first: Any, last: Any, ratio: float, shape: str) -> str:
    """How a figure grew relative to the gates: 1.0 is proportional (linear)."""
    if not shape or not first:
        return ""
    if shape == "flat":
        return f"x{last / first:.2f} (per gate)"
    return f"x{last / first:.1f} for x{ratio:g} gates ({last / first / ratio:.2f})"


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    system = f"{platform.system()} {platform.release()}"
    return f"{model}, {os.cpu_count()} cores, {system}, Python {platform.python_version()}"


def say(message: str) -> None:
    print(message, flush=True)


async def run(args: argparse.Namespace) -> list[Figures]:
    sizes = [int(n) for n in str(args.gates).split(",")]
    kubeconfig, started = await asyncio.to_thread(start_cluster, args.cluster)
    prometheus = await asyncio.to_thread(start_fixture_prometheus)
    # Long timeouts: listing thousands of gates on an API server sharing two cores with the
    # operator under test can take more than lightkube's default.
    client = AsyncClient(
        KubeConfig.from_file(kubeconfig), field_manager="bench", timeout=httpx2.Timeout(120)
    )
    results = []
    try:
        logs = Path(tempfile.mkdtemp(prefix="canarygate-scale-idle-"))
        idle_mb = await idle_rss(kubeconfig, prometheus, logs)
        for count in sizes:
            for attempt in range(1, args.attempts + 1):
                try:
                    figures = await measure(args, count, kubeconfig, client, prometheus, idle_mb)
                    break
                except CrdChanged as changed:
                    say(f"{count} gates, attempt {attempt}: {changed}")
                    if attempt == args.attempts:
                        raise
            results.append(figures)
            print(table(results), flush=True)
    finally:
        prometheus.stop()
        await client.close()
        if started and not args.keep_cluster:
            await asyncio.to_thread(stop_cluster)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", default="1000,10000", help="sizes, comma-separated")
    parser.add_argument("--steady", type=float, default=120.0, help="seconds measured")
    parser.add_argument("--settle", type=float, default=30.0, help="seconds before measuring")
    parser.add_argument(
        "--no-window-cache", action="store_true", help="read every window every tick"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    parser.add_argument(
        "--cluster",
        choices=("private", "shared"),
        default="private",
        help="a control plane of the benchmark's own (default), or the shared one",
    )
    parser.add_argument("--keep-cluster", action="store_true", help="leave the private one up")
    parser.add_argument(
        "--memory-dump", action="store_true", help="the operator's heap, after start and at the end"
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="runs of one size when the CRD is changed"
    )
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy folded stacks: PREFIX-N.txt")
    args = parser.parse_args()
    command = "python -m bench.scale " + " ".join(
        f"--{k.replace('_', '-')}={v}" if v is not True else f"--{k.replace('_', '-')}"
        for k, v in vars(args).items() if v not in (None, False)
    )  # fmt: skip
    results = asyncio.run(run(args))
    print()
    print(f"command: {command}")
    print(f"machine: {machine()}")
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "command": command,
                    "machine": machine(),
                    "results": [r.__dict__ for r in results],
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
