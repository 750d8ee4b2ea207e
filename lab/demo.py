"""`make demo`: two releases through the canarygate operator on a local Kubernetes control
plane, one promoted and one rolled back, every decision printed as it happens.

1. Builds the control-plane binaries once if needed (announced: 8-10 min the first time),
   starts the local control plane or reuses the running one.
2. In a namespace of its own: the HTTPRoutes of examples/demo/routes.yaml, a Prometheus
   scraping every second, one traffic simulator per route (it splits its requests by the
   route's live weights), and `canarygate run` watching that namespace.
3. Applies examples/demo/checkout-gate.yaml (healthy) and payments-gate.yaml. Once the
   payments canary has traffic and its error-rate guardrail has passed, 5 % of its requests
   start failing; the gate rolls back.
4. Prints one line per transition, then a summary with the rollback's detection latency.

Everything it started is removed at the end, on failure and on Ctrl-C (the cluster only if
it started it). `--keep` leaves it all running and prints how to explore it; `--stop` ends
a kept demo. `--chart` installs the operator with its Helm chart instead, as a new user would,
and runs the installed Deployment's command as a process (lab/demo_chart.py says why).
`make demo-evaluate` is the offline CLI walkthrough (lab/demo_evaluate.py).
"""

from __future__ import annotations

import argparse
import re
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property, partial
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from canarygate.core.durations import parse_duration
from lab.chart import HelmError
from lab.demo_chart import RELEASE, Release, start_chart_operator
from lab.demo_cluster import REPO, SetupError, ensure_binaries, ensure_helm, start_cluster
from lab.demo_kube import Kube, route_weight_reader
from lab.demo_latency import RollbackProbe, RollbackTiming
from lab.demo_stage import DemoStage, LiveStage, keep, read_kept_state, stop_kept
from lab.demo_watch import HEADER, TransitionWatcher
from lab.prometheus import PrometheusUnavailable
from lab.stage import (
    StageError,
    TargetedPrometheus,
    start_operator,
    start_simulator,
    start_targeted_prometheus,
)

DEMO_DIR = REPO / "examples" / "demo"
ROUTES = DEMO_DIR / "routes.yaml"
FAULT_RATIO = 0.05
GUARDRAIL = "error-rate"
OUTCOME_TIMEOUT = 180.0
POLL = 0.25
TERMINAL = ("Promoted", "RolledBack", "Invalid")


class DemoFailure(RuntimeError):
    """The demo did not go as it should; the message says how, the operator's log says why."""


class Interrupted(Exception):
    """SIGTERM, handled like Ctrl-C."""


@dataclass(frozen=True)
class DemoGate:
    """A gate of the demo: its manifest, its simulator's journeys and the outcome it must
    reach."""

    manifest: Path
    journeys: str
    expected: str
    faulty: bool

    @cached_property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(self.manifest.read_text())
        return loaded

    @property
    def name(self) -> str:
        return str(self.body["metadata"]["name"])

    @property
    def canary(self) -> dict[str, Any]:
        canary: dict[str, Any] = self.body["spec"]["canary"]
        return canary

    @property
    def route(self) -> dict[str, str]:
        route: dict[str, str] = self.canary["traffic"]["gatewayAPI"]
        return route

    def guardrail(self, name: str) -> dict[str, Any]:
        return next(g for g in self.canary["guardrails"] if g["name"] == name)

    def window(self, guardrail: str) -> str:
        """The literal range of a guardrail's canary query (`10s` in `[10s]`)."""
        found = re.search(r"\[(\w+)\]", self.guardrail(guardrail)["canary"])
        return found.group(1) if found else "?"

    def relative(self) -> str:
        return str(self.manifest.relative_to(REPO))


GATES = (
    DemoGate(DEMO_DIR / "checkout-gate.yaml", "checkout,login,search", "Promoted", faulty=False),
    DemoGate(DEMO_DIR / "payments-gate.yaml", "pay,refund", "RolledBack", faulty=True),
)


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


# -- setting the stage ----------------------------------------------------------------------


def set_stage(stage: DemoStage, *, chart: bool) -> LiveStage:
    """Start everything, recording each part in `stage` as soon as it runs (so that a failure
    half-way tears down what did start). `chart`: the operator from the Helm chart."""
    ensure_binaries(say)
    if chart:
        ensure_helm(say)
    stage.cluster = cluster = start_cluster(say)
    stage.kube = kube = Kube(cluster.kubeconfig)
    suffix = secrets.token_hex(2)
    stage.namespace = namespace = f"canarygate-demo-{suffix}"
    kube.create_namespace(namespace)
    cluster.kubectl("apply", f"--namespace={namespace}", f"--filename={ROUTES}")
    say(f"namespace {namespace}: HTTPRoutes checkout and payments at 100 % stable "
        f"(kubectl apply -f {ROUTES.relative_to(REPO)})")  # fmt: skip
    stage.prometheus = prometheus = start_targeted_prometheus()
    for gate in GATES:
        simulator = start_simulator(
            gate.name,
            kubeconfig=cluster.kubeconfig,
            namespace=namespace,
            provider="gatewayAPI",
            obj=gate.route["httpRoute"],
            stable=gate.route["stableBackend"],
            canary=gate.route["canaryBackend"],
            log_dir=stage.log_dir,
            extra=[f"--journeys={gate.journeys}"],
        )
        stage.simulators[gate.name] = simulator
        prometheus.add_target(simulator.address, app=gate.name)
    for gate in GATES:
        # Two scrapes, so that rate() has an answer when the gate first asks.
        prometheus.wait_scraped(f'{{app="{gate.name}"}}')
        wait_until(f"a request rate for {gate.name}", partial(has_traffic, prometheus, gate.name))
    say(f"Prometheus {prometheus.url} scrapes every 1 s a traffic simulator per route, "
        f"50 requests/s per journey: "
        + ", ".join(f"{n} {s.url}" for n, s in stage.simulators.items()))  # fmt: skip
    if chart:
        stage.release = release = Release(RELEASE, f"canarygate-system-{suffix}")
        release.install(cluster, namespace, prometheus.url, say)
        stage.operator, command = start_chart_operator(cluster, release, stage.log_dir, say)
        say(f"operator ready: {' '.join([*command.command, 'run', *command.flags])}")
    else:
        stage.operator = start_operator(
            kubeconfig=cluster.kubeconfig,
            prometheus=prometheus.url,
            log_dir=stage.log_dir,
            namespaces=[namespace],
        )
        say(f"operator ready: canarygate run --namespace={namespace} --prometheus={prometheus.url}")
    operator = stage.operator
    for gate in GATES:
        cluster.kubectl("apply", f"--namespace={namespace}", f"--filename={gate.manifest}")
        say(f"applied {gate.relative()}: {describe(gate)}")
    return LiveStage(
        cluster, kube, namespace, prometheus, stage.simulators, operator, stage.log_dir,
        stage.release,
    )  # fmt: skip


def has_traffic(prometheus: TargetedPrometheus, app: str) -> bool:
    return (prometheus.query(f'sum(rate(http_requests_total{{app="{app}"}}[1m]))') or 0) > 0


def describe(gate: DemoGate) -> str:
    canary = gate.canary
    steps = " -> ".join(f"{s}%" for s in canary["steps"])
    guardrail = gate.guardrail(GUARDRAIL)
    tier = gate.body["spec"]["risk"].get("factors", {}).get("tier", "")
    risk = "high risk (tier critical: 2 passes per step)" if tier == "critical" else "low risk"
    return (
        f"{gate.name} {canary.get('revision', '')}, {risk}, steps {steps}, every "
        f"{canary['interval']}; {GUARDRAIL} at most {guardrail['max']:.0%} over "
        f"{gate.window(GUARDRAIL)}"
    )


def wait_until(what: str, probe: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe():
                return
        except Exception:  # not ready yet; the timeout reports it
            pass
        time.sleep(0.2)
    raise DemoFailure(f"timed out after {timeout:.0f}s waiting for {what}")


# -- following the gates --------------------------------------------------------------------


@dataclass
class Outcome:
    phases: dict[str, str]
    weights: dict[str, list[int]]
    seconds: dict[str, float]
    timing: RollbackTiming | None
    fault_at_weight: int | None


def ready_for_fault(body: Mapping[str, Any] | None, first_step: int) -> bool:
    """The canary has its first step's traffic and the guardrail has passed on it."""
    status = (body or {}).get("status") or {}
    passed = any(
        g.get("name") == GUARDRAIL and g.get("verdict") == "pass"
        for g in status.get("guardrails") or []
    )
    return passed and int(status.get("weight") or 0) >= first_step


def follow(stage: LiveStage) -> Outcome:
    kube, namespace = stage.kube, stage.namespace
    faulty = next(g for g in GATES if g.faulty)
    watcher = TransitionWatcher()
    probe: RollbackProbe | None = None
    fault_weight: int | None = None
    started = time.monotonic()
    finished: dict[str, float] = {}
    print(f"\n{HEADER}", flush=True)
    gates: dict[str, dict[str, Any]] = {}
    while len(finished) < len(GATES):
        check_processes(stage)
        if time.monotonic() - started > OUTCOME_TIMEOUT:
            stuck = ", ".join(
                f"{n} {(b.get('status') or {}).get('phase', 'new')} at "
                f"{(b.get('status') or {}).get('weight', 0)}%"
                for n, b in gates.items()
            )
            raise DemoFailure(f"the gates did not finish within {OUTCOME_TIMEOUT:.0f}s: {stuck}")
        gates = kube.gates(namespace)
        for transition in watcher.update(gates, kube.gate_events(namespace)):
            print(transition.line(), flush=True)
        body = gates.get(faulty.name)
        if probe is None and ready_for_fault(body, faulty.canary["steps"][0]):
            probe, fault_weight = inject_fault(stage, faulty, body or {})
        for name, gate_body in gates.items():
            phase = (gate_body.get("status") or {}).get("phase")
            if phase in TERMINAL and name not in finished:
                finished[name] = time.monotonic() - started
        time.sleep(POLL)
    timing = probe.wait(timeout=15.0) if probe is not None else None
    return Outcome(
        phases={n: str((b.get("status") or {}).get("phase")) for n, b in gates.items()},
        weights={n: moves(b) for n, b in gates.items()},
        seconds=finished,
        timing=timing,
        fault_at_weight=fault_weight,
    )


def check_processes(stage: LiveStage) -> None:
    """Fail at once, with its log, when a process the story depends on has died."""
    for process in (stage.operator, *stage.simulators.values()):
        if not process.alive():
            raise StageError(
                f"the {process.name} exited unexpectedly; last lines of {process.log_path}:\n"
                f"{process.log_tail(30)}"
            )
    running = stage.prometheus.running
    if running.process.poll() is not None:
        raise StageError(
            f"Prometheus exited unexpectedly; last lines of {running.log_path}:\n"
            f"{running.log_tail()}"
        )


def inject_fault(
    stage: LiveStage, gate: DemoGate, body: Mapping[str, Any]
) -> tuple[RollbackProbe, int]:
    simulator = stage.simulators[gate.name]
    guardrail = gate.guardrail(GUARDRAIL)
    probe = RollbackProbe(
        prometheus_url=stage.prometheus.url,
        promql=guardrail["canary"],
        maximum=float(guardrail["max"]),
        read_weight=route_weight_reader(stage.cluster.kubeconfig, stage.namespace, gate.route),
    )
    simulator.set_faults(errorRatio=FAULT_RATIO)
    probe.start(time.monotonic())
    weight = int((body.get("status") or {}).get("weight") or 0)
    clock = time.strftime("%H:%M:%S")
    print(
        f"{clock:<8}  {gate.name:<9} {'FAULT':<9} {f'{weight}%':<11} {'':<7} "
        f"the demo makes {FAULT_RATIO:.0%} of canary requests fail "
        f"(POST {simulator.url}/faults)",
        flush=True,
    )
    return probe, weight


def moves(body: Mapping[str, Any]) -> list[int]:
    """The weights a gate's traffic went through in this rollout, from its history."""
    path: list[int] = []
    for entry in (body.get("status") or {}).get("history") or []:
        if str(entry.get("reason", "")).startswith("rollout of revision"):
            path = [int(entry.get("weightTo") or 0)]
        elif entry.get("action") in ("advance", "promote", "rollback"):
            path.append(int(entry.get("weightTo") or 0))
    return path


# -- telling what happened ------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "not seen" if value is None else f"{value:5.1f} s"


def summary(outcome: Outcome) -> bool:
    """Print the summary; True when every gate reached the outcome it should."""
    print("\nSummary", flush=True)
    good = True
    for gate in GATES:
        phase = outcome.phases.get(gate.name, "?")
        path = " -> ".join(f"{w}%" for w in outcome.weights.get(gate.name, []))
        verdict = {"Promoted": "promoted", "RolledBack": "rolled back"}.get(phase, phase)
        took = outcome.seconds.get(gate.name)
        after = f"  (after {took:.0f} s)" if took else ""
        print(f"  {gate.name:<9} {verdict:<12} {path}{after}")
        if phase != gate.expected:
            good = False
            print(f"  {'':<9} expected {gate.expected}, got {phase}")
    timing = outcome.timing
    faulty = next(g for g in GATES if g.faulty)
    if timing is None:
        good = False
        print(f"  {faulty.name}: ended before its canary was at a step with a passing guardrail; "
              "the fault never went on")  # fmt: skip
    else:
        guardrail = faulty.guardrail(GUARDRAIL)
        share = float(guardrail["max"]) / FAULT_RATIO
        interval = faulty.canary["interval"]
        window = faulty.window(GUARDRAIL)
        filled = share * parse_duration(window).seconds
        print(
            f"\n  {faulty.name}: detection latency of the rollback (the fault went on at "
            f"{outcome.fault_at_weight}% canary)\n"
            f"    fault on -> breach visible in Prometheus  {seconds(timing.fault_to_visible)}"
            f"   the error ratio over [{window}] reaches {float(guardrail['max']):.0%} once "
            f"{share:.0%} of the window is failing traffic ({filled:.0f} s), plus up to "
            "2 s as scrapes land (every 1 s)\n"
            f"    breach visible -> route 100 % stable      {seconds(timing.visible_to_rollback)}"
            f"   up to one evaluation interval ({interval}) + query and patch time\n"
            f"    fault on -> route 100 % stable            {seconds(timing.fault_to_rollback)}"
        )
        print("  `make bench-latency` measures this over many runs and intervals.")
    return good


def explore(stage: LiveStage, state_file: Path) -> None:
    namespace, cluster = stage.namespace, stage.cluster
    faulty = next(g for g in GATES if g.faulty)
    healthy = next(g for g in GATES if not g.faulty)
    simulator = stage.simulators[healthy.name]
    revision = healthy.canary.get("revision", "")
    manifest = healthy.relative()
    canarygate = Path(sys.executable).parent / "canarygate"
    check = f"{canarygate.relative_to(REPO)} check {namespace}/{healthy.name} --wait --timeout 5m"
    also_cluster = ", and the control plane it started" if cluster.started_here else ""
    release = stage.release
    lines = [
        "",
        f"Everything keeps running (what runs is recorded in {state_file}). Explore:",
        "",
        f"  export KUBECONFIG={cluster.kubeconfig}",
        f"  export PATH={Path(cluster.kubectl_path).parent}:$PATH   # this kubectl build",
        "  kubectl get cg -A -w",
        f"  kubectl describe cg {faulty.name} -n {namespace}",
        f"  kubectl get cg {healthy.name} -n {namespace} -o jsonpath='{{.status.history}}'",
        f"  kubectl get httproute -n {namespace} -o yaml",
    ]
    if release is not None:
        account = f"system:serviceaccount:{release.namespace}:{release.name}"
        lines += [
            f"  scripts/helm list -n {release.namespace}"
            "                    # the release (its Deployment at 0 replicas)",
            f"  kubectl auth can-i --list -n {namespace} --as={account}",
        ]
    lines += [
        "",
        f"  Prometheus:   {stage.prometheus.url}",
        "                (try: sum by (app, version, code) (rate(http_requests_total[10s])))",
        f"  Operator log: {stage.operator.log_path}",
        "  Simulators:   "
        + ", ".join(f"{name} {s.url}/state" for name, s in stage.simulators.items()),
        "",
        f"A new revision of {healthy.name}, and a pipeline step gated on its verdict (exit 0 "
        "promoted, 1 rolled back; from the repository's root, with the exports above):",
        f"  sed 's/revision: {revision}/revision: v3/' {manifest} "
        f"| kubectl apply -n {namespace} -f -",
        f"  {check} && echo 'next pipeline step'",
        "",
        f"Break the next one: fail 20 % of {healthy.name}'s canary requests, then roll out v4:",
        f"  curl -X POST {simulator.url}/faults -d '{{\"errorRatio\": 0.2}}'",
        f"  kubectl patch cg {healthy.name} -n {namespace} --type=merge "
        '-p \'{"spec":{"canary":{"revision":"v4"}}}\'',
        f'  {check}; echo "exit $?"',
        f"  curl -X DELETE {simulator.url}/faults   # clears the fault",
        "",
        f"Stop it all: make demo ARGS=--stop   (the namespace, the processes{also_cluster}"
        + (f", the Helm release and {release.namespace}" if release is not None else "")
        + ")",
    ]
    print("\n".join(lines), flush=True)


# -- the command ----------------------------------------------------------------------------


def relevant_log(error: BaseException, stage: DemoStage) -> str:
    """The log that explains `error`: its own evidence when it carries some, else the
    operator's (the gates' outcomes are its doing)."""
    if isinstance(error, SetupError):
        return error.detail.strip()
    if isinstance(error, StageError | PrometheusUnavailable | HelmError):
        return ""  # their message already holds the log tail (helm's: its stderr)
    if stage.operator is not None:
        return f"--- last lines of {stage.operator.log_path} ---\n{stage.operator.log_tail(30)}"
    return ""


def run(keep_running: bool, *, chart: bool = False) -> int:
    if (running := read_kept_state()) is not None:
        print(
            f"canarygate demo: a demo kept with --keep is still running in namespace "
            f"{running['namespace']}; stop it first: make demo ARGS=--stop",
            file=sys.stderr,
        )
        return 2
    how = " installed with its Helm chart" if chart else ""
    print(
        f"canarygate demo: a good release and a bad one through the operator{how}, live\n",
        flush=True,
    )
    stage = DemoStage()
    kept = False
    failed = False
    try:
        live = set_stage(stage, chart=chart)
        good = summary(follow(live))
        failed = not good
        if keep_running:
            explore(live, keep(live))
            kept = True
        return 0 if good else 1
    except (KeyboardInterrupt, Interrupted):
        print("\ninterrupted; cleaning up", file=sys.stderr, flush=True)
        return 130
    except Exception as error:  # every failure ends in one line and the relevant log
        failed = True
        message = str(error).strip() or type(error).__name__
        known = SetupError | StageError | DemoFailure | PrometheusUnavailable | HelmError
        if not isinstance(error, known):
            message = f"{type(error).__name__}: {message}"
        print(f"\ncanarygate demo failed: {message}", file=sys.stderr, flush=True)
        if log := relevant_log(error, stage):
            print(log, file=sys.stderr, flush=True)
        return 1
    finally:
        if not kept:
            with _no_interruptions():
                say("cleaning up")
                stage.teardown(say, keep_logs=failed)


class _no_interruptions:
    """Ctrl-C during the teardown would leave half of it behind: say so and carry on."""

    def __enter__(self) -> None:
        def patience(_signum: int, _frame: FrameType | None) -> None:
            print("(cleaning up, one moment)", file=sys.stderr, flush=True)

        self.previous = (
            signal.signal(signal.SIGINT, patience),
            signal.signal(signal.SIGTERM, patience),
        )

    def __exit__(self, *_: object) -> None:
        signal.signal(signal.SIGINT, self.previous[0])
        signal.signal(signal.SIGTERM, self.previous[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo ARGS=...", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--keep", action="store_true", help="leave everything running")
    action.add_argument("--stop", action="store_true", help="stop a demo kept with --keep")
    parser.add_argument(
        "--chart",
        action="store_true",
        help="install the operator with its Helm chart (scripts/helm) and run the installed "
        "Deployment's command as its ServiceAccount",
    )
    args = parser.parse_args(argv)

    def on_sigterm(_signum: int, _frame: FrameType | None) -> None:
        raise Interrupted

    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C must reach the cleanup even when started with SIGINT ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.stop:
        return stop_kept(say)
    return run(args.keep, chart=args.chart)


if __name__ == "__main__":
    sys.exit(main())
