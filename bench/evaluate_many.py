"""Benchmark: N gates x 3 journeys (+1 guardrail each) in one tick against the real fixture
Prometheus. Prints wall time, queries asked for and actually sent, CPU seconds of this
process and of Prometheus, and peak RSS.

    python -m bench.evaluate_many [--gates 1000] [--mode shared|distinct|both] [--segmented]

`shared`: gates draw their journeys from the fixture's journeys, as canaries of many
services gate on the same customer journeys (checkout, login...): deduplication works.
`distinct`: every gate's queries are unique (a per-gate no-op matcher): the worst case.
`--segmented`: the same gates with every journey judged per region (`segmentBy: [region]`,
`sum by (region) (...)`): what segments cost in requests, CPU and time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canarygate.api.converting import to_gate_spec
from canarygate.api.loading import parse_gate
from canarygate.core import GateState, PlannedQuery, Segmented, decide, plan_queries
from canarygate.evaluating import evaluate_gates
from canarygate.metrics import PrometheusClient, PrometheusConfig
from lab.fixture_prometheus import start_fixture_prometheus
from lab.gates import error_rate_guardrail, gate
from lab.histories import CANARIES, FIXTURE_NOW, JOURNEYS, LATENCIES

POOL = [j.journey for j in JOURNEYS] + [latency.journey for latency in LATENCIES]
APPS = [c.app for c in CANARIES]


def segment_by_region(document: dict[str, Any]) -> None:
    """Judge every journey of `document` per region as well: `sum(` becomes `sum by (region) (`
    (a fixture journey without regions answers one segment, its absent label)."""
    for journey in document["spec"]["journeys"]:
        journey["segmentBy"] = ["region"]
        for role in ("good", "total"):
            journey["sli"][role] = journey["sli"][role].replace("sum(", "sum by (region) (", 1)


def build_gates(count: int, distinct: bool, seed: int = 7, segmented: bool = False) -> list[Any]:
    chooser = random.Random(seed)
    gates = []
    for index in range(count):
        document = gate(
            *chooser.sample(POOL, 3),
            risk=chooser.choice(["low", "high"]),
            guardrails=[error_rate_guardrail(chooser.choice(APPS))],
        )
        document["metadata"]["name"] = f"gate-{index}"
        if segmented:
            segment_by_region(document)
        if distinct:
            # A matcher that selects nothing extra but makes every query text unique.
            marker = f'gate!="g{index}",'
            for journey in document["spec"]["journeys"]:
                for role in ("good", "total"):
                    journey["sli"][role] = journey["sli"][role].replace(
                        "{journey=", "{" + marker + "journey="
                    )
            guardrail = document["spec"]["canary"]["guardrails"][0]
            for role in ("canary", "baseline", "samples"):
                guardrail[role] = guardrail[role].replace("{app=", "{" + marker + "app=")
        gates.append(parse_gate(document))
    return gates


def _observed(query: PlannedQuery) -> float | Segmented:
    """A value for decide() alone: three regions of a segmented query, else one number."""
    if query.segmentation is None:
        return 0.5
    return Segmented(query.segmentation.labels, {(r,): 0.5 for r in ("eu", "us", "ap")})


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Figures:
    mode: str
    segmented: bool
    gates: int
    journeys: int
    guardrails: int
    wall_seconds: float
    queries_requested: int
    queries_sent: int
    http_requests: int
    cpu_seconds: float
    prometheus_cpu_seconds: float
    peak_rss_mib: float
    decide_microseconds_per_gate: float
    actions: dict[str, int]


async def run(mode: str, count: int, concurrency: int, segmented: bool) -> Figures:
    gates = build_gates(count, distinct=mode == "distinct", segmented=segmented)
    prometheus = start_fixture_prometheus()
    try:
        config = PrometheusConfig(address=prometheus.url, max_concurrency=concurrency, timeout=30)
        async with PrometheusClient(config) as client:
            # Warm the TSDB caches once so the figure is a steady-state tick, not a cold start.
            await evaluate_gates(gates[:1], client, FIXTURE_NOW)
            prom_cpu = process_cpu_seconds(prometheus.process.pid)
            cpu = time.process_time()
            started = time.perf_counter()
            report = await evaluate_gates(gates, client, FIXTURE_NOW)
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu
            prom_cpu = process_cpu_seconds(prometheus.process.pid) - prom_cpu
    finally:
        prometheus.stop()

    # The pure part alone: decide() for every gate, on observations already in memory.
    specs = [to_gate_spec(g) for g in gates]
    observations = [{q.key: _observed(q) for q in plan_queries(spec)} for spec in specs]
    started = time.perf_counter()
    for spec, observed in zip(specs, observations, strict=True):
        decide(spec, GateState(weight=25), observed, FIXTURE_NOW)
    decide_us = (time.perf_counter() - started) / len(specs) * 1e6

    actions: dict[str, int] = {}
    for decision in report.decisions:
        actions[str(decision.action)] = actions.get(str(decision.action), 0) + 1
    return Figures(
        mode=mode,
        segmented=segmented,
        gates=count,
        journeys=sum(len(s.journeys) for s in specs),
        guardrails=sum(len(s.canary.guardrails) for s in specs),
        wall_seconds=round(wall, 3),
        queries_requested=report.requested,
        queries_sent=report.distinct,
        http_requests=report.http_requests,
        cpu_seconds=round(cpu, 3),
        prometheus_cpu_seconds=round(prom_cpu, 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        decide_microseconds_per_gate=round(decide_us, 1),
        actions=actions,
    )


def show(figures: Figures) -> None:
    segments = ", journeys segmented by region" if figures.segmented else ""
    print(f"\n== {figures.mode}: {figures.gates} gates, {figures.journeys} journeys, "
          f"{figures.guardrails} guardrails{segments}, one tick ==")  # fmt: skip
    rows = [
        ("wall time", f"{figures.wall_seconds:.2f} s"),
        ("queries planned", f"{figures.queries_requested}"),
        ("requests sent (dedup + packing)", f"{figures.queries_sent}"),
        ("HTTP requests (incl. retries)", f"{figures.http_requests}"),
        ("CPU, canarygate", f"{figures.cpu_seconds:.2f} s"),
        ("CPU, Prometheus", f"{figures.prometheus_cpu_seconds:.2f} s"),
        ("peak RSS, canarygate", f"{figures.peak_rss_mib:.0f} MiB"),
        ("decide() alone", f"{figures.decide_microseconds_per_gate:.0f} us per gate"),
        ("actions", ", ".join(f"{k} {v}" for k, v in sorted(figures.actions.items()))),
    ]
    for label, value in rows:
        print(f"  {label:<32}{value}")
    print("  json " + json.dumps(figures.__dict__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gates", type=int, default=1000)
    parser.add_argument("--mode", choices=("shared", "distinct", "both"), default="both")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--segmented", action="store_true", help="journeys judged per region")
    args = parser.parse_args()
    if args.mode == "both":
        # Separate processes, so that each mode's peak RSS is its own.
        for mode in ("shared", "distinct"):
            options = ["--mode", mode, "--gates", str(args.gates)]
            options += ["--concurrency", str(args.concurrency)]
            options += ["--segmented"] if args.segmented else []
            command = [sys.executable, "-m", "bench.evaluate_many", *options]
            subprocess.run(command, check=True)
        return 0
    show(asyncio.run(run(args.mode, args.gates, args.concurrency, args.segmented)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
