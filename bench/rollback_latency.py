"""Benchmark: detection-to-rollback latency of the live operator, per evaluation interval.

    python -m bench.rollback_latency [--intervals 2s,5s,10s] [--runs 5] [--window 5s] [--json]

On the local control plane (reused if running), one HTTPRoute, traffic simulator and
CanaryGate per interval, one Prometheus scraping every second, one `canarygate run`. Each
run gives the gate a new spec.canary.revision (a new rollout from 0 %), waits until its
canary is at the first step and the error-rate guardrail has passed once, then makes a
share of canary requests fail and times (see lab/demo_latency.py):

    t_fault     POST /faults returned
    t_visible   the guardrail's own PromQL, polled every 100 ms, first exceeds its max
    t_rollback  the HTTPRoute, polled every 50 ms through the API, is back at 100 % stable

The gates are high risk (guarded mode: two passing evaluations per step), so the canary
stays at its first step for one interval after the guardrail's first pass. The fault goes
on within that interval, run k of n at (k - 1/2)/n of it: real faults are not aligned with
evaluations, and evenly spread moments make min / median / max cover the whole interval
with few runs. The intervals run side by side, one thread each, runs in sequence within an
interval; --sequential runs one interval after another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from lab.demo_cluster import LocalCluster, SetupError, ensure_binaries, start_cluster
from lab.demo_kube import Kube, route_weight_reader
from lab.demo_latency import RollbackProbe, exceeds, query_value
from lab.demo_stage import DemoStage
from lab.stage import (
    Simulator,
    StageError,
    start_operator,
    start_simulator,
    start_targeted_prometheus,
)

SCRAPE_SECONDS = 1.0  # lab.stage's Prometheus scrape interval
FIRST_STEP = 10
JOURNEYS = ("checkout", "login")
RATE_PER_JOURNEY = 50.0  # requests/s the simulator sends per journey
# The guardrail's minSamples is this share of the canary requests of a full window at the
# first step: its first pass then means the window is (nearly) all canary traffic, so every
# fault meets the same full window, whatever the interval. A canary that has had traffic for
# less of the window is inconclusive (hold) instead.
FULL_WINDOW_SHARE = 0.8
TARGET_SLACK = 2.0  # the target: t_rollback - t_visible <= interval + this
# The fault goes on at most this long before the next evaluation, so that it lands while
# the canary still holds at its first step.
PHASE_MARGIN = 0.5
MAX_DISCARDED = 3  # runs spoiled before the fault (see Spoiled) tolerated per interval


class Spoiled(Exception):
    """The rollout went wrong before the fault went on (it rolled back or promoted on its
    own); the run says nothing about detection and is done again."""


class BenchFailure(RuntimeError):
    """The benchmark could not measure; the message says why."""


@dataclass(frozen=True)
class Settings:
    intervals: tuple[str, ...]
    runs: int
    window: str
    error_ratio: float
    maximum: float


@dataclass
class Run:
    interval: str
    run: int
    fault_offset: float  # seconds from seeing the first pass to switching the fault on
    weight_at_fault: int
    rolled_back_from: int | None
    fault_to_visible: float | None
    visible_to_rollback: float | None
    fault_to_rollback: float | None


@dataclass
class Setting:
    """One interval: its gate's name, its simulator, and its runs."""

    interval: str
    seconds: float
    name: str
    simulator: Simulator | None = None
    runs: list[Run] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)
    error: str | None = None


# -- the objects ------------------------------------------------------------------------------


def selector(app: str, **labels: str) -> str:
    return ",".join(f'{k}="{v}"' for k, v in {"app": app, **labels}.items())


def guardrail_query(app: str, window: str) -> str:
    errors = (
        f"sum(rate(http_requests_total{{{selector(app, version='canary', code='500')}}}[{window}]))"
    )
    total = f"sum(rate(http_requests_total{{{selector(app, version='canary')}}}[{window}]))"
    return f"{errors} / {total}"


def min_samples(window: str) -> int:
    canary_rate = RATE_PER_JOURNEY * len(JOURNEYS) * FIRST_STEP / 100
    return int(FULL_WINDOW_SHARE * canary_rate * parse_duration(window).seconds)


def route(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": f"{name}-stable", "port": 80, "weight": 100},
                        {"name": f"{name}-canary", "port": 80, "weight": 0},
                    ]
                }
            ],
        },
    }


def gate(name: str, *, interval: str, revision: str, settings: Settings) -> dict[str, Any]:
    """High risk (guarded: two passes per step) so the canary waits at its first step; a
    journey that stays green through every fault (the benchmark measures the guardrail)."""
    every = selector(name, journey="checkout")
    canary = selector(name, version="canary")
    window = "{{window}}"
    return {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {"name": name},
        "spec": {
            "risk": {"level": "high"},
            "journeys": [
                {
                    "name": "checkout",
                    "objective": 90,
                    "window": "1h",
                    "sli": {
                        "good": f'sum(rate(http_requests_total{{{every},code!="500"}}[{window}]))',
                        "total": f"sum(rate(http_requests_total{{{every}}}[{window}]))",
                    },
                }
            ],
            "health": {
                "red": {
                    "burnRates": [{"long": "2m", "short": "1m", "threshold": 5}],
                    "budgetRemainingAtMost": -1000,
                },
                "yellow": {"burnRates": [], "budgetRemainingBelow": -1000},
            },
            "canary": {
                "revision": revision,
                "traffic": {
                    "provider": "gatewayAPI",
                    "gatewayAPI": {
                        "httpRoute": name,
                        "stableBackend": f"{name}-stable",
                        "canaryBackend": f"{name}-canary",
                    },
                },
                "steps": [FIRST_STEP, 50],
                "interval": interval,
                "guardrails": [
                    {
                        "name": "error-rate",
                        "canary": guardrail_query(name, settings.window),
                        "max": settings.maximum,
                        "samples": (
                            f"sum(increase(http_requests_total{{{canary}}}[{settings.window}]))"
                        ),
                        "minSamples": min_samples(settings.window),
                    }
                ],
            },
        },
    }


# -- one run --------------------------------------------------------------------------------


def wait_for(what: str, probe: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(every)
    raise BenchFailure(f"timed out after {timeout:.0f}s waiting for {what}")


def status_of(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    body = kube.gate(namespace, name) or {}
    status: dict[str, Any] = body.get("status") or {}
    return status


def at_first_step_and_passed(status: dict[str, Any], revision: str) -> bool:
    """The rollout of `revision` has its first step's traffic and its guardrail passed there;
    raises Spoiled if the rollout ended before."""
    if status.get("revision") != revision:
        return False
    if status.get("phase") in ("RolledBack", "Promoted"):
        raise Spoiled(f"{status.get('phase')} before the fault: {status.get('message', '')}")
    passed = any(g.get("verdict") == "pass" for g in status.get("guardrails") or [])
    return passed and status.get("weight") == FIRST_STEP


def rolled_back_from(status: dict[str, Any]) -> int | None:
    for entry in reversed(status.get("history") or []):
        if entry.get("action") == "rollback":
            return int(entry.get("weightFrom") or 0)
    return None


@dataclass
class Context:
    settings: Settings
    cluster: LocalCluster
    namespace: str
    prometheus_url: str
    say: Callable[[str], None]


def one_run(ctx: Context, setting: Setting, kube: Kube, number: int) -> Run:
    assert setting.simulator is not None  # set before any run starts
    simulator, name = setting.simulator, setting.name
    promql = guardrail_query(name, ctx.settings.window)
    simulator.clear_faults()
    # The last run's failing requests must leave the guardrail's window first, or they would
    # fail the new canary at its first measurement, before any fault.
    with httpx.Client(timeout=2.0) as prometheus:
        wait_for(
            f"{name}: the last fault to leave the [{ctx.settings.window}] window",
            lambda: (
                not exceeds(
                    query_value(prometheus, ctx.prometheus_url, promql), ctx.settings.maximum
                )
            ),
            timeout=60,
        )
    revision = f"r{number}-{secrets.token_hex(2)}"
    manifest = gate(name, interval=setting.interval, revision=revision, settings=ctx.settings)
    ctx.cluster.kubectl(
        "apply", f"--namespace={ctx.namespace}", "-f", "-", stdin=json.dumps(manifest)
    )
    # Two evaluations at 0 %, one to move, one or two to measure: four intervals and slack.
    wait_for(
        f"{name} {revision}: the canary at {FIRST_STEP}% with its guardrail passed",
        lambda: at_first_step_and_passed(status_of(kube, ctx.namespace, name), revision),
        timeout=5 * setting.seconds + 30,
    )
    reader = route_weight_reader(
        ctx.cluster.kubeconfig, ctx.namespace, manifest["spec"]["canary"]["traffic"]["gatewayAPI"]
    )
    probe = RollbackProbe(
        prometheus_url=ctx.prometheus_url,
        promql=promql,
        maximum=ctx.settings.maximum,
        read_weight=reader,
    )
    # Real faults are not aligned with evaluations: the fault goes on at a moment of the
    # interval that follows the guardrail's first pass (while the gate holds for its second),
    # spread evenly over the runs; right after an evaluation every run would have one phase.
    usable = max(0.0, setting.seconds - PHASE_MARGIN)
    offset = usable * (len(setting.runs) + 0.5) / ctx.settings.runs
    time.sleep(offset)
    weight = int(status_of(kube, ctx.namespace, name).get("weight") or 0)
    simulator.set_faults(errorRatio=ctx.settings.error_ratio)
    probe.start(time.monotonic())
    timing = probe.wait(timeout=3 * setting.seconds + 30)
    simulator.clear_faults()
    origin: int | None = None
    if timing.t_rollback is not None:
        # The route moves first, the status is written after it: wait for the record.
        def recorded() -> bool:
            status = status_of(kube, ctx.namespace, name)
            return status.get("revision") == revision and status.get("phase") == "RolledBack"

        wait_for(f"{name} {revision}: the rollback in status", recorded, timeout=30)
        origin = rolled_back_from(status_of(kube, ctx.namespace, name))
    return Run(
        interval=setting.interval,
        run=number,
        fault_offset=round(offset, 3),
        weight_at_fault=weight,
        rolled_back_from=origin,
        fault_to_visible=timing.fault_to_visible,
        visible_to_rollback=timing.visible_to_rollback,
        fault_to_rollback=timing.fault_to_rollback,
    )


def run_setting(ctx: Context, setting: Setting) -> None:
    """Every run of one interval, in sequence; errors end up in `setting.error`."""
    kube = Kube(ctx.cluster.kubeconfig)
    try:
        number = 0
        while len(setting.runs) < ctx.settings.runs:
            number += 1
            try:
                result = one_run(ctx, setting, kube, number)
            except Spoiled as spoiled:
                setting.discarded.append(str(spoiled))
                ctx.say(f"interval {setting.interval}: run discarded ({spoiled}); again")
                if len(setting.discarded) > MAX_DISCARDED:
                    raise BenchFailure(
                        f"interval {setting.interval}: too many spoiled runs"
                    ) from None
                continue
            setting.runs.append(result)
            ctx.say(describe_run(result, len(setting.runs), ctx.settings.runs))
    except Exception as error:  # reported with the results; the other intervals go on
        setting.error = f"{type(error).__name__}: {error}"
        ctx.say(f"interval {setting.interval}: stopped: {setting.error}")
    finally:
        kube.close()


def describe_run(run: Run, done: int, total: int) -> str:
    def s(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f} s"

    origin = "no rollback" if run.rolled_back_from is None else f"from {run.rolled_back_from}%"
    return (
        f"interval {run.interval:>4} run {done}/{total}: fault at {run.weight_at_fault}% -> "
        f"visible {s(run.fault_to_visible)} -> route 100 % stable {s(run.visible_to_rollback)} "
        f"later ({origin}); fault -> rollback {s(run.fault_to_rollback)}"
    )


# -- the report -----------------------------------------------------------------------------


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def spread(values: Sequence[float | None]) -> dict[str, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return {"min": None, "median": None, "max": None, "missing": len(values)}
    return {
        "min": round(min(known), 3),
        "median": round(statistics.median(known), 3),
        "max": round(max(known), 3),
        "missing": len(values) - len(known),
    }


def summarise(setting: Setting) -> dict[str, Any]:
    runs = setting.runs
    met = [
        r.visible_to_rollback is not None
        and r.visible_to_rollback <= setting.seconds + TARGET_SLACK
        for r in runs
    ]
    return {
        "interval": setting.interval,
        "intervalSeconds": setting.seconds,
        "runs": len(runs),
        "discarded": setting.discarded,
        "error": setting.error,
        "faultToVisible": spread([r.fault_to_visible for r in runs]),
        "visibleToRollback": spread([r.visible_to_rollback for r in runs]),
        "faultToRollback": spread([r.fault_to_rollback for r in runs]),
        "target": f"t_rollback - t_visible <= {setting.interval} + {TARGET_SLACK:g}s",
        "targetMet": bool(runs) and all(met) and setting.error is None,
        "targetMetRuns": sum(met),
        "details": [
            {
                "run": r.run,
                "faultOffset": r.fault_offset,
                "weightAtFault": r.weight_at_fault,
                "rolledBackFrom": r.rolled_back_from,
                "faultToVisible": _rounded(r.fault_to_visible),
                "visibleToRollback": _rounded(r.visible_to_rollback),
                "faultToRollback": _rounded(r.fault_to_rollback),
            }
            for r in runs
        ],
    }


def machine() -> dict[str, Any]:
    memory = cpu = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    return {
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
    }


def triple(values: dict[str, float | None]) -> str:
    if values["min"] is None:
        return "-"
    text = f"{values['min']:.2f} / {values['median']:.2f} / {values['max']:.2f}"
    return text + (f" ({values['missing']} never)" if values["missing"] else "")


def print_report(report: dict[str, Any]) -> None:
    s = report["settings"]
    print(f"\ncommand:  {report['command']}")
    m = report["machine"]
    print(
        f"machine:  {m['system']}, {m['cpus']} x {m['cpu'] or 'CPU'}, {m['memory']}, "
        f"Python {m['python']}; load average {m['loadAverage']} at the start, "
        f"{report['loadAverageAtEnd']} at the end"
    )
    print(
        f"setup:    guardrail = canary error ratio over [{s['window']}] <= {s['maximum']}; fault = "
        f"{s['errorRatio']:.0%} of canary requests fail at the first step ({FIRST_STEP}%); "
        f"Prometheus scrapes every {SCRAPE_SECONDS:g} s; {s['runs']} runs per interval, "
        f"{'in sequence' if s['sequential'] else 'intervals side by side'}; minSamples "
        f"{min_samples(s['window'])}, so the guardrail first passes once the window holds "
        f"{FULL_WINDOW_SHARE:.0%} canary traffic"
    )
    header = (
        f"{'interval':<9}{'runs':<6}{'fault->visible':<22}{'visible->rollback':<22}"
        f"{'fault->rollback':<22}target visible->rollback <= interval+{TARGET_SLACK:g}s"
    )
    print(f"\nseconds, min / median / max\n{header}")
    for row in report["results"]:
        verdict = "met" if row["targetMet"] else "NOT met"
        verdict += f" ({row['targetMetRuns']}/{row['runs']} runs)"
        if row["error"]:
            verdict += f"; stopped: {row['error']}"
        print(
            f"{row['interval']:<9}{row['runs']:<6}{triple(row['faultToVisible']):<22}"
            f"{triple(row['visibleToRollback']):<22}{triple(row['faultToRollback']):<22}{verdict}"
        )
    window = parse_duration(s["window"]).seconds
    fill = window * s["maximum"] / s["errorRatio"]
    print(
        f"\nHow the parts add up:\n"
        f"  fault -> visible: the guardrail's rate() over [{s['window']}] is a moving average "
        f"of the samples in its window; at {s['errorRatio']:.0%} failing\n"
        f"    requests it passes {s['maximum']} once {s['maximum'] / s['errorRatio']:.0%} of "
        f"the window is failing traffic ({fill:.2f} s of [{s['window']}]), and it moves only "
        f"when a scrape lands\n    (every {SCRAPE_SECONDS:g} s): expect that share of the "
        f"window plus up to {2 * SCRAPE_SECONDS:g} s. The term grows with the window: "
        f"[10s] would need\n    {fill * 10 / window:.2f} s, [1m] {fill * 60 / window:.1f} s "
        f"(and a fault closer to the max needs a larger share of the window).\n"
        f"  visible -> rollback: the operator sees the breach at its next evaluation, up to "
        f"one interval later (the runs' faults go on at moments\n    spread evenly over the "
        f"interval), plus its queries and the route patch. When the breach becomes "
        f"visible just after an\n    evaluation, that evaluation still passes (and may "
        f"advance the canary); the next one rolls back.\n"
        f"  fault -> rollback: the two added, so at most about the window's share + "
        f"{2 * SCRAPE_SECONDS:g} s + one interval + overhead."
    )


# -- the command ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rollback_latency", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--intervals", default="2s,5s,10s", help="gate intervals (default 2s,5s,10s)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per interval (default 5)")
    parser.add_argument("--window", default="5s", help="the guardrail's range (default 5s)")
    parser.add_argument(
        "--error-ratio", type=float, default=0.2, help="share of canary requests failing (0.2)"
    )
    parser.add_argument("--max", type=float, default=0.05, help="the guardrail's max (0.05)")
    parser.add_argument("--sequential", action="store_true", help="one interval at a time")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        for text in [*args.intervals.split(","), args.window]:
            seconds = parse_duration(text.strip()).seconds
            if not 1 <= seconds <= 3600:
                raise SpecError("duration", f"{text} is outside 1s..1h")
    except SpecError as error:
        parser.error(f"{error.message}")
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be 1..100")
    if not 0 < args.max < args.error_ratio <= 1:
        parser.error("need 0 < --max < --error-ratio <= 1 (the fault must breach the guardrail)")
    return args


def set_stage(
    stage: DemoStage, settings: Settings, say: Callable[[str], None]
) -> tuple[Context, list[Setting]]:
    """The cluster, a namespace, Prometheus, a route and simulator per interval, the
    operator; each part recorded in `stage` as soon as it runs, for the teardown."""
    ensure_binaries(say)
    stage.cluster = cluster = start_cluster(say)
    stage.kube = kube = Kube(cluster.kubeconfig)
    stage.namespace = namespace = f"canarygate-bench-{secrets.token_hex(2)}"
    kube.create_namespace(namespace)
    stage.prometheus = prometheus = start_targeted_prometheus()
    rows = [
        Setting(
            text,
            parse_duration(text).seconds,
            f"latency-{index}",
        )
        for index, text in enumerate(settings.intervals)
    ]
    for row in rows:
        cluster.kubectl(
            "apply", f"--namespace={namespace}", "-f", "-", stdin=json.dumps(route(row.name))
        )
        row.simulator = start_simulator(
            row.name,
            kubeconfig=cluster.kubeconfig,
            namespace=namespace,
            provider="gatewayAPI",
            obj=row.name,
            stable=f"{row.name}-stable",
            canary=f"{row.name}-canary",
            log_dir=stage.log_dir,
            rate=RATE_PER_JOURNEY,
            extra=[f"--journeys={','.join(JOURNEYS)}"],
        )
        stage.simulators[row.name] = row.simulator
        prometheus.add_target(row.simulator.address, app=row.name)
    for row in rows:
        prometheus.wait_scraped(f'{{app="{row.name}"}}')
    stage.operator = start_operator(
        kubeconfig=cluster.kubeconfig,
        prometheus=prometheus.url,
        log_dir=stage.log_dir,
        namespaces=[namespace],
    )
    say(
        f"namespace {namespace}: {len(rows)} gates (intervals "
        f"{', '.join(settings.intervals)}), Prometheus {prometheus.url}, operator ready; "
        f"{settings.runs} runs each"
    )
    return Context(settings, cluster, namespace, prometheus.url, say), rows


def measure(ctx: Context, rows: list[Setting], *, sequential: bool) -> None:
    if sequential:
        for row in rows:
            run_setting(ctx, row)
        return
    threads = [threading.Thread(target=run_setting, args=(ctx, row), daemon=True) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def build_report(
    command: str,
    settings: Settings,
    rows: list[Setting],
    *,
    start_machine: dict[str, Any],
    wall: float,
    sequential: bool,
) -> dict[str, Any]:
    return {
        "command": command,
        "machine": start_machine,
        "loadAverageAtEnd": [round(x, 2) for x in os.getloadavg()],
        "wallSeconds": round(wall, 1),
        "settings": {
            "intervals": list(settings.intervals),
            "runs": settings.runs,
            "window": settings.window,
            "errorRatio": settings.error_ratio,
            "maximum": settings.maximum,
            "sequential": sequential,
            "scrapeSeconds": SCRAPE_SECONDS,
            "firstStep": FIRST_STEP,
        },
        "results": [summarise(row) for row in rows],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(
        intervals=tuple(t.strip() for t in args.intervals.split(",")),
        runs=args.runs,
        window=args.window,
        error_ratio=args.error_ratio,
        maximum=args.max,
    )
    command = "python -m bench.rollback_latency " + " ".join(sys.argv[1:] if argv is None else argv)
    lock = threading.Lock()

    def say(message: str) -> None:
        with lock:
            print(f"==> {message}", file=sys.stderr if args.json else sys.stdout, flush=True)

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    start_machine = machine()
    stage = DemoStage()
    failed = True
    try:
        ctx, rows = set_stage(stage, settings, say)
        started = time.monotonic()
        measure(ctx, rows, sequential=args.sequential)
        report = build_report(
            command.strip(),
            settings,
            rows,
            start_machine=start_machine,
            wall=time.monotonic() - started,
            sequential=args.sequential,
        )
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_report(report)
            print(f"\nwall time of the runs: {report['wallSeconds']:.0f} s")
        failed = any(row.error for row in rows)
        return 1 if failed else 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    except (SetupError, StageError, BenchFailure) as error:
        print(f"bench-latency failed: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # no traceback reaches the user; the logs are kept
        print(f"bench-latency failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    finally:
        stage.teardown(say, keep_logs=failed)


if __name__ == "__main__":
    sys.exit(main())
