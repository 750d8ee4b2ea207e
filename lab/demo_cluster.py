"""The local control plane as the demo and the latency benchmark use it: the binaries (built
once, announced first because the first build takes minutes), helm for `--chart` (likewise),
the cluster (reused when one is running, and then left running), the CanaryGate CRD, and
kubectl.

Only the local control plane is used, never $KUBECONFIG: the demo creates namespaces and a
CRD, which nobody wants on whatever cluster their shell happens to point at.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lab import crds
from lab.kubectl import find_kubectl

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "e2e" / "cluster"
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
CRD_NAME = "canarygates.canarygate.io"
# The same defaults and variables as e2e/cluster/_common.py (standard-library scripts that
# run before the virtualenv exists, so they are called, not imported).
KUBERNETES_VERSION = os.environ.get("CANARYGATE_KUBERNETES_VERSION", "v1.34.4")
KWOK_VERSION = os.environ.get("CANARYGATE_KWOK_VERSION", "v0.7.0")
HELM_VERSION = os.environ.get("CANARYGATE_HELM_VERSION", "v3.21.4")
BUILD_TIMEOUT = 3600.0
UP_TIMEOUT = 900.0  # a first `up` on a loaded 2-core machine

Say = Callable[[str], None]


class SetupError(RuntimeError):
    """A setup step failed: `str()` is one line for the user, `detail` the evidence."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def cache_root() -> Path:
    if env := os.environ.get("CANARYGATE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "canarygate"


def binaries_cached() -> bool:
    """True when e2e/cluster/build has completed for the pinned versions (its marker file)."""
    bin_dir = cache_root() / "bin"
    return all(
        (bin_dir / name / ".complete").is_file()
        for name in (f"kubernetes-{KUBERNETES_VERSION}", f"kwok-{KWOK_VERSION}")
    )


def helm_cached() -> bool:
    """True when helm is named by $CANARYGATE_HELM or `e2e/cluster/build helm` has completed."""
    if os.environ.get("CANARYGATE_HELM"):
        return True
    return (cache_root() / "bin" / f"helm-{HELM_VERSION}" / ".complete").is_file()


def _script(
    name: str, *args: str, timeout: float, quiet: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run e2e/cluster/<name>; its progress (stderr) goes to the terminal unless `quiet`."""
    try:
        return subprocess.run(
            [sys.executable, str(SCRIPTS / name), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if quiet else None,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SetupError(f"e2e/cluster/{name} did not finish within {timeout:.0f}s") from None


def require_go() -> None:
    if shutil.which("go") is None:
        raise SetupError(
            "Go is not on PATH: the local control plane is built once from the Go module "
            "proxy and reads its CRDs from Go's module cache; install Go 1.24 or newer "
            "(https://go.dev/dl/) and run this again"
        )


def ensure_binaries(say: Say) -> None:
    """Build the control-plane binaries unless they are cached; say so before a long build."""
    if binaries_cached():
        return
    require_go()
    say(
        "building the control-plane binaries once (kube-apiserver, kubectl, kwok... from the "
        "Go module proxy): 8-10 min the first time, then cached under "
        f"{cache_root() / 'bin'} and instant; progress every 20 s"
    )
    built = _script("build", timeout=BUILD_TIMEOUT)
    if built.returncode != 0:
        logs = cache_root() / "build"
        raise SetupError(f"e2e/cluster/build failed (its output is above; logs in {logs})")


def ensure_helm(say: Say) -> None:
    """Build helm unless it is cached (scripts/helm runs it); say so before the build."""
    if helm_cached():
        return
    require_go()
    say(
        f"building helm {HELM_VERSION} once (go install from the Go module proxy): 1-3 min the "
        f"first time, then cached under {cache_root() / 'bin'}; progress every 20 s"
    )
    built = _script("build", "helm", timeout=BUILD_TIMEOUT)
    if built.returncode != 0:
        logs = cache_root() / "build"
        raise SetupError(f"e2e/cluster/build helm failed (its output is above; logs in {logs})")


@dataclass(frozen=True)
class LocalCluster:
    kubeconfig: Path
    kubectl_path: str
    started_here: bool

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 120.0) -> str:
        """Run kubectl against this cluster; SetupError with its stderr when it fails."""
        command = [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args]
        try:
            done = subprocess.run(
                command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise SetupError(f"kubectl {' '.join(args)}: no answer within {timeout:.0f}s") from None
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["(no message)"])[0]
            raise SetupError(f"kubectl {' '.join(args)} failed: {first}", done.stderr)
        return done.stdout

    def stop_if_started_here(self, say: Say) -> None:
        if not self.started_here:
            return
        say("stopping the local control plane this run started (e2e/cluster/down)")
        down = _script("down", timeout=180, quiet=True)
        if down.returncode != 0:
            raise SetupError("e2e/cluster/down failed", down.stderr)


def kubectl_of(kubeconfig: Path) -> str:
    """Our own kubectl build, recorded by `up` in cluster.env beside the kubeconfig."""
    found = find_kubectl(kubeconfig)
    if found is None:
        env_file = kubeconfig.parent / "cluster.env"
        raise SetupError(f"no kubectl: {env_file} names none and none is on PATH")
    return found


def start_cluster(say: Say) -> LocalCluster:
    """Reuse the running local control plane, or start one (which `stop_if_started_here`
    stops again); apply the CanaryGate CRD either way."""
    require_go()
    running = _script("status", timeout=60, quiet=True).returncode == 0
    if running:
        say("reusing the local control plane already running (it stays running afterwards)")
    else:
        say("starting the local control plane (e2e/cluster/up, about 10 s)")
    up = _script("up", timeout=UP_TIMEOUT, quiet=running)
    if up.returncode != 0:
        raise SetupError("e2e/cluster/up failed (its output is above)", up.stderr or "")
    kubeconfig = Path(up.stdout.strip().splitlines()[-1])
    cluster = LocalCluster(kubeconfig, kubectl_of(kubeconfig), started_here=not running)
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    try:
        crds.wait_established(cluster.kubectl, [CRD_NAME], timeout=60)
    except crds.CRDsNotEstablished as error:
        raise SetupError(str(error), "") from None
    return cluster
