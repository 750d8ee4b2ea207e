"""Which kubectl the lab, the benchmarks and the e2e tests run: the local control plane's,
built by e2e/cluster and recorded in `cluster.env` beside its kubeconfig, unless
`$CANARYGATE_KUBECTL` names another; kubectl on PATH otherwise."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def find_kubectl(kubeconfig: Path) -> str | None:
    """$CANARYGATE_KUBECTL, else the control plane's (cluster.env beside `kubeconfig`), else
    kubectl on PATH; None when there is none."""
    if explicit := os.environ.get("CANARYGATE_KUBECTL"):
        return explicit
    env_file = kubeconfig.parent / "cluster.env"
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            if key == "CANARYGATE_KUBECTL" and Path(value).is_file():
                return value
    return shutil.which("kubectl")
