"""The peers, Flagger and Argo Rollouts, as the benchmarks and e2e tests run them: built from
their Go modules by `e2e/cluster/build flagger argo-rollouts` (cached under
~/.cache/canarygate/bin, never committed), their CRDs installed into a cluster, and each
controller started out of cluster as its own process with its log.

    peer = FLAGGER
    ensure_built(peer)                       # e2e/cluster/build flagger, unless cached
    install_crds(peer, kubeconfig)           # the module's CRDs, applied server-side
    flagger = start_flagger(kubeconfig=..., prometheus=url, log_dir=logs)
    ...
    flagger.stop()

`add_kwok_nodes` gives a run its own fake nodes (kwok manages every Node carrying the
annotation the local control plane's kwok selects): the shared `kwok-node-0` holds 250 pods
and Flagger runs two Deployments per canary. The nodes are tainted, so only pods that
tolerate the taint (the run's own) land there, and nobody else's pods are lost when the run
deletes them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from lab import crds
from lab.kubectl import find_kubectl
from lab.prometheus import free_port
from lab.stage import Process, StageError, wait_for

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / "e2e" / "cluster" / "build"
BUILD_TIMEOUT = 3600.0
# The same defaults and variables as e2e/cluster/_common.py (standard-library scripts that run
# before the virtualenv exists, so they are called, not imported).
FLAGGER_VERSION = os.environ.get("CANARYGATE_FLAGGER_VERSION", "v1.41.0")
ARGO_ROLLOUTS_VERSION = os.environ.get("CANARYGATE_ARGO_ROLLOUTS_VERSION", "v1.8.3")
KWOK_ANNOTATION = "kwok.x-k8s.io/node"  # kwok runs --manage-nodes-with-annotation-selector=...=fake
NODE_TAINT = "canarygate.io/peer-bench"


class PeerError(RuntimeError):
    """A peer could not be built, installed or started; the message says which and why."""


@dataclass(frozen=True)
class Peer:
    name: str  # as `e2e/cluster/build` knows it
    version: str
    binary: str
    crds: tuple[str, ...]  # names of the CRDs it installs, to wait for

    @property
    def directory(self) -> Path:
        return cache_root() / "bin" / f"{self.name}-{self.version}"

    @property
    def path(self) -> Path:
        return self.directory / self.binary

    def crd_files(self) -> list[Path]:
        """The CRD YAMLs `e2e/cluster/build` copied out of the peer's Go module."""
        return sorted((self.directory / "crds").glob("*.yaml"))


FLAGGER = Peer(
    "flagger",
    FLAGGER_VERSION,
    "flagger",
    ("canaries.flagger.app", "metrictemplates.flagger.app", "alertproviders.flagger.app"),
)
ARGO_ROLLOUTS = Peer(
    "argo-rollouts",
    ARGO_ROLLOUTS_VERSION,
    "rollouts-controller",
    (
        "rollouts.argoproj.io",
        "analysisruns.argoproj.io",
        "analysistemplates.argoproj.io",
        "clusteranalysistemplates.argoproj.io",
        "experiments.argoproj.io",
    ),
)
PEERS = {peer.name: peer for peer in (FLAGGER, ARGO_ROLLOUTS)}


def cache_root() -> Path:
    if env := os.environ.get("CANARYGATE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "canarygate"


def is_built(peer: Peer) -> bool:
    return (peer.directory / ".complete").is_file() and peer.path.is_file()


def ensure_built(peer: Peer) -> Path:
    """The peer's binary, built by `e2e/cluster/build <name>` first unless it is cached (a
    first build takes 1-5 minutes; its progress goes to stderr)."""
    if not is_built(peer):
        try:
            done = subprocess.run(
                [sys.executable, str(BUILD), peer.name], timeout=BUILD_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise PeerError(
                f"e2e/cluster/build {peer.name} ran past {BUILD_TIMEOUT:.0f}s"
            ) from None
        if done.returncode != 0 or not is_built(peer):
            raise PeerError(
                f"e2e/cluster/build {peer.name} failed (its output is above; logs in "
                f"{cache_root() / 'build' / f'{peer.name}-{peer.version}'})"
            )
    return peer.path


def kubectl_for(kubeconfig: Path) -> str:
    """kubectl: $CANARYGATE_KUBECTL, else the local control plane's (cluster.env beside its
    kubeconfig), else kubectl on PATH."""
    return find_kubectl(kubeconfig) or "kubectl"  # the error, if any, from running it


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, timeout: float = 300.0) -> str:
    command = [kubectl_for(kubeconfig), f"--kubeconfig={kubeconfig}", *args]
    try:
        done = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise PeerError(f"kubectl {' '.join(args)} ran past {timeout:.0f}s") from None
    if done.returncode != 0:
        raise PeerError(f"kubectl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def install_crds(peer: Peer, kubeconfig: Path) -> None:
    """Apply the peer's CRDs (server-side: Flagger's are too large for the last-applied
    annotation) and wait until the API server serves them."""
    ensure_built(peer)
    files = peer.crd_files()
    if not files:
        raise PeerError(f"no CRD YAMLs under {peer.directory / 'crds'}; rebuild with --force")
    for path in files:
        kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", f"--filename={path}")
    try:
        crds.wait_established(lambda *args: kubectl(kubeconfig, *args, timeout=30), peer.crds)
    except crds.CRDsNotEstablished as error:
        raise PeerError(f"{peer.name}: {error}") from None


@dataclass
class PeerProcess(Process):
    """A running peer controller: its /metrics and its health endpoint on loopback ports."""

    metrics_url: str = ""
    health_url: str = ""

    def metrics(self) -> str:
        return httpx.get(f"{self.metrics_url}/metrics", timeout=10).text

    def healthy(self) -> bool:
        if not self.alive():
            raise StageError(f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}")
        try:
            return httpx.get(self.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_healthy(self, timeout: float = 120.0) -> None:
        wait_for(f"{self.name} to answer {self.health_url}", self.healthy, timeout=timeout)

    def wait_logged(self, text: str, timeout: float = 120.0) -> None:
        """Until `text` appears in the log (the peer exiting first ends the wait at once)."""

        def logged() -> bool:
            if not self.alive():
                raise StageError(f"{self.name} exited:\n{self.log_tail()}")
            return text in self.log_path.read_text(errors="replace")

        wait_for(f"{self.name} to log {text!r}", logged, timeout=timeout)


def _spawn_binary(
    name: str, args: Sequence[str], log_dir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            list(args), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    return process, log_path


def start_flagger(
    *,
    kubeconfig: Path,
    prometheus: str,
    log_dir: Path,
    namespace: str = "",
    mesh_provider: str = "gatewayapi:v1",
    extra: Sequence[str] = (),
    name: str = "flagger",
    wait: bool = True,
) -> PeerProcess:
    """Flagger out of cluster: `-kubeconfig`, `-mesh-provider gatewayapi:v1`, `-metrics-server`
    (its default metrics provider's address), its HTTP server (/metrics, /healthz) on a free
    port, watching `namespace` (all when empty). No leader election (one replica). With
    `wait`, returns once it has synced its informers and started its workers."""
    binary = ensure_built(FLAGGER)
    port = free_port()
    args = [
        str(binary), f"-kubeconfig={kubeconfig}", f"-mesh-provider={mesh_provider}",
        f"-metrics-server={prometheus}", f"-port={port}", "-log-level=info",
        *([f"-namespace={namespace}"] if namespace else []), *extra,
    ]  # fmt: skip
    process, log_path = _spawn_binary(name, args, log_dir)
    url = f"http://127.0.0.1:{port}"
    flagger = PeerProcess(name, process, log_path, metrics_url=url, health_url=f"{url}/healthz")
    if wait:
        flagger.wait_healthy()
        flagger.wait_logged("Started operator workers")
    return flagger


def start_argo_rollouts(
    *,
    kubeconfig: Path,
    log_dir: Path,
    namespace: str = "",
    extra: Sequence[str] = (),
    name: str = "argo-rollouts",
    wait: bool = True,
) -> PeerProcess:
    """The Argo Rollouts controller out of cluster: `--kubeconfig`, metrics and health on free
    ports, no leader election (one replica), namespaced to `namespace` when given."""
    binary = ensure_built(ARGO_ROLLOUTS)
    metrics, health = free_port(), free_port()
    args = [
        str(binary), f"--kubeconfig={kubeconfig}", f"--metricsport={metrics}",
        f"--healthzPort={health}", "--leader-elect=false", "--loglevel=info",
        *(["--namespaced", f"--namespace={namespace}"] if namespace else []), *extra,
    ]  # fmt: skip
    process, log_path = _spawn_binary(name, args, log_dir)
    rollouts = PeerProcess(
        name,
        process,
        log_path,
        metrics_url=f"http://127.0.0.1:{metrics}",
        health_url=f"http://127.0.0.1:{health}/healthz",
    )
    if wait:
        rollouts.wait_healthy()
    return rollouts


_NODE = """\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations:
    {annotation}: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
    {taint}: "{owner}"
spec:
  taints:
    - {{key: {taint}, value: "{owner}", effect: NoSchedule}}
status:
  capacity: {{cpu: "64", memory: 256Gi, pods: "{pods}"}}
  allocatable: {{cpu: "64", memory: 256Gi, pods: "{pods}"}}
---
"""


def add_kwok_nodes(kubeconfig: Path, owner: str, count: int, pods: int = 250) -> list[str]:
    """`count` kwok-managed Nodes labelled and tainted `canarygate.io/peer-bench=<owner>`; the
    run's pods take `pod_placement(owner)`. Returns their names once kwok reports them Ready."""
    names = [f"peer-{owner}-{index}" for index in range(count)]
    manifest = "".join(
        _NODE.format(name=n, annotation=KWOK_ANNOTATION, taint=NODE_TAINT, owner=owner, pods=pods)
        for n in names
    )
    if names:
        kubectl(kubeconfig, "apply", "--filename=-", stdin=manifest)
        kubectl(
            kubeconfig, "wait", "--for=condition=Ready", "--timeout=120s",
            *(f"node/{n}" for n in names),
        )  # fmt: skip
    return names


def remove_kwok_nodes(kubeconfig: Path, names: Sequence[str]) -> None:
    if names:
        kubectl(kubeconfig, "delete", "node", "--ignore-not-found", "--wait=false", *names)


def pod_placement(owner: str) -> dict[str, object]:
    """Pod spec fields that put a pod on (and only on) the nodes `add_kwok_nodes(owner)` made."""
    return {
        "nodeSelector": {NODE_TAINT: owner},
        "tolerations": [
            {"key": NODE_TAINT, "operator": "Equal", "value": owner, "effect": "NoSchedule"}
        ],
    }
