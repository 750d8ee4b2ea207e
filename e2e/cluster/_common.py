"""Shared by the local control-plane scripts: pinned versions, where things live, waits, logs.

Standard library only, so `e2e/cluster/*` run with any Python 3.11+ before the project
virtualenv exists. Every path can be moved with an environment variable (see e2e/README.md).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    kwok: str
    gateway_api: str
    istio_api: str
    helm: str
    prometheus_operator: str
    flagger: str
    argo_rollouts: str

    @property
    def staging(self) -> str:
        """k8s.io/kubernetes vX.Y.Z publishes its staging modules (k8s.io/api...) as v0.Y.Z."""
        return "v0." + self.kubernetes.removeprefix("v").split(".", 1)[1]


VERSIONS = Versions(
    kubernetes=os.environ.get("CANARYGATE_KUBERNETES_VERSION", "v1.34.4"),
    kwok=os.environ.get("CANARYGATE_KWOK_VERSION", "v0.7.0"),
    gateway_api=os.environ.get("CANARYGATE_GATEWAY_API_VERSION", "v1.4.1"),
    istio_api=os.environ.get("CANARYGATE_ISTIO_API_VERSION", "v1.24.2"),
    helm=os.environ.get("CANARYGATE_HELM_VERSION", "v3.21.4"),
    prometheus_operator=os.environ.get("CANARYGATE_PROMETHEUS_OPERATOR_VERSION", "v0.85.0"),
    # Peers, built only when asked (`e2e/cluster/build flagger argo-rollouts`). Flagger is
    # pinned: the module proxy's @latest answers an older v1.36.1.
    flagger=os.environ.get("CANARYGATE_FLAGGER_VERSION", "v1.41.0"),
    argo_rollouts=os.environ.get("CANARYGATE_ARGO_ROLLOUTS_VERSION", "v1.8.3"),
)

KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")


class ClusterError(RuntimeError):
    """A step failed; the message says which and carries the evidence (log tails)."""


def cache_root() -> Path:
    if env := os.environ.get("CANARYGATE_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "canarygate"


def kubernetes_bin_dir() -> Path:
    return cache_root() / "bin" / f"kubernetes-{VERSIONS.kubernetes}"


def kwok_bin_dir() -> Path:
    return cache_root() / "bin" / f"kwok-{VERSIONS.kwok}"


def helm_bin_dir() -> Path:
    return cache_root() / "bin" / f"helm-{VERSIONS.helm}"


def flagger_bin_dir() -> Path:
    return cache_root() / "bin" / f"flagger-{VERSIONS.flagger}"


def argo_rollouts_bin_dir() -> Path:
    return cache_root() / "bin" / f"argo-rollouts-{VERSIONS.argo_rollouts}"


def cluster_dir() -> Path:
    if env := os.environ.get("CANARYGATE_CLUSTER_DIR"):
        return Path(env)
    return cache_root() / "cluster"


_START = time.monotonic()


def log(message: str) -> None:
    print(f"[cluster {time.monotonic() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return "\n".join(f"    | {line}" for line in text[-lines:])


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.25,
    diagnose: Callable[[], str] | None = None,
) -> float:
    """Poll `check` until it is true; raise ClusterError naming `what` after `timeout` seconds.

    `check` may raise ClusterError to give up early (e.g. the process died). Returns the
    seconds waited.
    """
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            detail = diagnose() if diagnose else ""
            raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}\n{detail}")
        time.sleep(interval)


def require_tools(*names: str) -> None:
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        raise ClusterError(
            f"not on PATH: {', '.join(missing)} (Go from go.dev or the image; "
            "apt-get install -y etcd-server openssl; .ci/run installs what Debian has)"
        )


@contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Serialise `up`/`down` on one cluster directory (two test sessions starting at once
    would otherwise both build a cluster in the same place)."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def main_guard(run: Callable[[], int]) -> None:
    """Run a script's main; print a ClusterError as a clean message and exit 1."""
    try:
        sys.exit(run())
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # e.g. `status | head`
        sys.exit(1)
