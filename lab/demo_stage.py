"""Everything `make demo` starts, and how it goes away again: the cluster (only if the demo
started it), the demo's namespace, Prometheus, one traffic simulator per gate, the operator,
with `--chart` the Helm release and its namespace, and a directory of logs.

`teardown` runs on success, failure and Ctrl-C, each step on its own so one failing step
does not leave the rest running. `keep` writes what runs to a state file instead, so that
`--stop` (another process, later) can tear the same things down by pid.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.demo_chart import Release
from lab.demo_cluster import LocalCluster, cache_root
from lab.demo_kube import Kube
from lab.stage import Operator, Simulator, TargetedPrometheus

Say = Callable[[str], None]
STOP_TIMEOUT = 20.0


def kept_state_file() -> Path:
    return cache_root() / "demo" / "kept.json"


@dataclass(frozen=True)
class LiveStage:
    """The stage once everything runs: what the demo's story works with."""

    cluster: LocalCluster
    kube: Kube
    namespace: str
    prometheus: TargetedPrometheus
    simulators: dict[str, Simulator]
    operator: Operator
    log_dir: Path
    release: Release | None = None


@dataclass
class DemoStage:
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="canarygate-demo-")))
    cluster: LocalCluster | None = None
    kube: Kube | None = None
    namespace: str | None = None
    prometheus: TargetedPrometheus | None = None
    simulators: dict[str, Simulator] = field(default_factory=dict)
    operator: Operator | None = None
    release: Release | None = None

    def operator_alive(self) -> bool:
        return self.operator is not None and self.operator.alive()

    def teardown(self, say: Say, *, keep_logs: bool) -> None:
        """Namespace first (the operator, if alive, restores routes and drops its finalizers),
        then the operator and its Helm release, the other processes, and the cluster if this
        run started it."""
        if self.kube is not None and self.namespace is not None:
            _step(
                say,
                f"delete namespace {self.namespace}",
                self.kube.delete_namespace,
                self.namespace,
                operator_alive=self.operator_alive,
                say=say,
            )
        if self.operator is not None:
            _step(say, "stop the operator", self.operator.stop)
        if self.release is not None and self.cluster is not None:
            _step(say, f"uninstall the Helm release {self.release.name}", _uninstall,
                  self.release, self.cluster, say)  # fmt: skip
        for name, simulator in self.simulators.items():
            _step(say, f"stop simulator {name}", simulator.stop)
        if self.prometheus is not None:
            prometheus = self.prometheus
            _step(say, "stop Prometheus", prometheus.stop)
            shutil.rmtree(prometheus.targets_file.parent, ignore_errors=True)
        if self.kube is not None:
            self.kube.close()
        if self.cluster is not None:
            _step(say, "stop the local control plane", self.cluster.stop_if_started_here, say)
        if keep_logs and any(self.log_dir.iterdir()):
            say(f"logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


# -- --keep and --stop ------------------------------------------------------------------------


def keep(live: LiveStage) -> Path:
    """Record what runs, for `--stop`; the processes simply outlive this one."""
    prometheus = live.prometheus
    processes = [
        {"name": "Prometheus", "pid": prometheus.running.process.pid, "marker": "prometheus"},
        {"name": "operator", "pid": live.operator.process.pid, "marker": "canarygate"},
    ]
    processes += [
        {"name": f"simulator {name}", "pid": s.process.pid, "marker": "lab.simulator"}
        for name, s in live.simulators.items()
    ]
    state = {
        "namespace": live.namespace,
        "kubeconfig": str(live.cluster.kubeconfig),
        "kubectl": live.cluster.kubectl_path,
        "clusterStartedHere": live.cluster.started_here,
        "processes": processes,
        "release": (
            {"name": live.release.name, "namespace": live.release.namespace}
            if live.release is not None
            else None
        ),
        "directories": [
            str(live.log_dir),
            str(prometheus.running.log_path.parent),
            str(prometheus.targets_file.parent),
        ],
    }
    path = kept_state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2) + "\n")
    return path


def read_kept_state() -> dict[str, Any] | None:
    """The state of a demo kept with --keep, or None when none is (or its processes are all
    gone, in which case the stale file is removed)."""
    path = kept_state_file()
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not any(_ours(p["pid"], p["marker"]) for p in state.get("processes", [])):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return state


def stop_kept(say: Say) -> int:
    """`--stop`: tear down the demo that `--keep` left running."""
    state = read_kept_state()
    if state is None:
        say("no demo is kept running; nothing to stop")
        return 0
    operator = next((p for p in state["processes"] if p["name"] == "operator"), None)

    def operator_alive() -> bool:
        return operator is not None and _ours(operator["pid"], operator["marker"])

    kube = Kube(Path(state["kubeconfig"]))
    namespace = state["namespace"]
    try:
        _step(
            say,
            f"delete namespace {namespace}",
            kube.delete_namespace,
            namespace,
            operator_alive=operator_alive,
            say=say,
        )
    finally:
        kube.close()
    for process in state["processes"]:
        _step(say, f"stop {process['name']}", _terminate, process["pid"], process["marker"])
    cluster = LocalCluster(
        Path(state["kubeconfig"]), state["kubectl"], bool(state["clusterStartedHere"])
    )
    if recorded := state.get("release"):
        release = Release(recorded["name"], recorded["namespace"])
        _step(say, f"uninstall the Helm release {release.name}", _uninstall, release, cluster, say)
    for directory in state["directories"]:
        shutil.rmtree(directory, ignore_errors=True)
    _step(say, "stop the local control plane", cluster.stop_if_started_here, say)
    with contextlib.suppress(OSError):
        kept_state_file().unlink()
    say("the kept demo is stopped")
    return 0


def _step(
    report: Say, what: str, action: Callable[..., object], /, *args: Any, **kwargs: Any
) -> None:
    try:
        action(*args, **kwargs)
    except Exception as error:  # one step failing must not leave the others running
        report(f"cleanup: could not {what}: {type(error).__name__}: {error}")


def _uninstall(release: Release, cluster: LocalCluster, say: Say) -> None:
    say(f"helm uninstall {release.name}; delete namespace {release.namespace}")
    release.uninstall(cluster)


def _ours(pid: int, marker: str) -> bool:
    """True if `pid` runs and is still the process we started (its command line holds
    `marker`), not another that reused the number."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return marker.encode() in cmdline


def _terminate(pid: int, marker: str) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT; only a process that is still ours."""
    if not _ours(pid, marker):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        if not _ours(pid, marker):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
