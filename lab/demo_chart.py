"""`make demo ARGS=--chart`: the operator installed with the Helm chart, as a new user would.

`scripts/helm install` puts charts/canarygate into a release namespace of its own for real:
the ServiceAccount, its RBAC (`scope: namespaced`, watching the demo's namespace only), the
Deployment with `prometheus.address` set to the demo's Prometheus. The local control plane
runs no containers (kwok only marks pods Running), so the Deployment is installed scaled to
zero (`replicaCount=0`) and its container's own command runs here as a process instead: the
args of the installed Deployment (`helm get manifest`), authenticated as the chart's
ServiceAccount with a token from `kubectl create token`, so it has the chart's RBAC and
nothing more (a permission the chart lacked would leave the gates stuck).

The token lasts TOKEN_DURATION: a demo kept longer has an operator the API server refuses
(`make demo ARGS=--stop` and start again).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from lab.chart import CHART, OperatorCommand, account_kubeconfig, helm, operator_command
from lab.demo_cluster import REPO, LocalCluster
from lab.stage import Operator, start_operator

RELEASE = "canarygate"
TOKEN_DURATION = "24h"

Say = Callable[[str], None]


@dataclass(frozen=True)
class Release:
    """The chart installed by the demo: release `name` in `namespace` (the demo's own)."""

    name: str
    namespace: str

    def install_args(self, watched: str, prometheus: str, chart: Path = CHART) -> list[str]:
        """`helm install` as the demo runs it (and prints it, from the repository's root)."""
        return [
            "install", self.name, str(chart), f"--namespace={self.namespace}",
            "--create-namespace", "--set=scope=namespaced", f"--set=watchNamespaces={{{watched}}}",
            f"--set=prometheus.address={prometheus}", "--set=replicaCount=0",
            "--set=logFormat=text",
        ]  # fmt: skip

    def install(self, cluster: LocalCluster, watched: str, prometheus: str, say: Say) -> None:
        shown = self.install_args(watched, prometheus, CHART.relative_to(REPO))
        say(
            f"installing the Helm chart for real: release {self.name} in namespace "
            f"{self.namespace}, watching {watched} only, the demo's Prometheus as default, and "
            "replicaCount=0: this local control plane runs no containers (kwok only marks pods "
            "Running), so the Deployment is installed scaled to zero and its container's "
            "command runs here as a process instead\n      scripts/helm " + " ".join(shown)
        )
        helm(*self.install_args(watched, prometheus), f"--kubeconfig={cluster.kubeconfig}")

    def manifest(self, cluster: LocalCluster) -> list[dict[str, Any]]:
        """The release's objects as installed (`helm get manifest`)."""
        text = helm(
            "get", "manifest", self.name, f"--namespace={self.namespace}",
            f"--kubeconfig={cluster.kubeconfig}",
        )  # fmt: skip
        return [doc for doc in yaml.safe_load_all(text) if doc]

    def uninstall(self, cluster: LocalCluster) -> None:
        """`helm uninstall`, then the release namespace (helm leaves the namespace it created,
        and the CRD, which other demos and gates may still use)."""
        helm(
            "uninstall", self.name, f"--namespace={self.namespace}", "--ignore-not-found",
            "--wait", f"--kubeconfig={cluster.kubeconfig}",
        )  # fmt: skip
        cluster.kubectl("delete", "namespace", self.namespace, "--ignore-not-found", "--wait=false")


def service_account(docs: list[dict[str, Any]]) -> str:
    """The ServiceAccount the release's Deployment runs as."""
    [deployment] = [doc for doc in docs if doc["kind"] == "Deployment"]
    return str(deployment["spec"]["template"]["spec"]["serviceAccountName"])


def start_chart_operator(
    cluster: LocalCluster, release: Release, log_dir: Path, say: Say
) -> tuple[Operator, OperatorCommand]:
    """The installed Deployment's container command, run here as its ServiceAccount."""
    docs = release.manifest(cluster)
    operator = operator_command(docs)
    account = service_account(docs)
    say(
        "running the Deployment's container as a process: its command and args as installed "
        f"(helm get manifest), authenticated as its ServiceAccount {release.namespace}/{account} "
        f"with a {TOKEN_DURATION} token (kubectl create token): the chart's RBAC, nothing more"
    )
    kubeconfig = account_kubeconfig(
        cluster.kubectl, cluster.kubeconfig, account, release.namespace,
        log_dir / "operator-account.kubeconfig", duration=TOKEN_DURATION,
    )  # fmt: skip
    started = start_operator(
        kubeconfig=kubeconfig,
        prometheus=None,
        log_dir=log_dir,
        extra=operator.flags,
        program=operator.program(),
    )
    return started, operator
