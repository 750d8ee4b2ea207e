"""The real API server refuses the same invalid CanaryGates as the CLI (shared cases in
tests/fixtures/invalid_gates.py), through the CRD's schema and CEL rules."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.helpers import Cluster, wait_until
from tests.fixtures.invalid_gates import CASES, InvalidCase, build, example_gate

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
SERVER_CHECKED = [case for case in CASES if case.server is not None]


@pytest.fixture(scope="module")
def crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--filename={CRD}")
    cluster.kubectl(
        "wait", "--for=condition=Established", "--timeout=60s", "crd/canarygates.canarygate.io"
    )


def refusal(cluster: Cluster, namespace: str, document: dict[str, object]) -> str:
    document = {**document, "metadata": {"name": "validation", "namespace": namespace}}
    done = subprocess.run(
        [cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", "create",
         "--dry-run=server", "--filename=-", "--output=name"],
        input=yaml.safe_dump(document), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return "" if done.returncode == 0 else done.stderr


def test_the_example_gate_is_accepted(cluster: Cluster, namespace: str, crd: None) -> None:
    # Right after Established the new type may take a moment to be served.
    wait_until(
        "the example CanaryGate to pass server-side validation",
        lambda: refusal(cluster, namespace, example_gate()) == "" or None,
        timeout=30,
    )


@pytest.mark.parametrize("case", SERVER_CHECKED, ids=lambda c: c.name)
def test_the_api_server_refuses_invalid_gates(
    cluster: Cluster, namespace: str, crd: None, case: InvalidCase
) -> None:
    message = refusal(cluster, namespace, build(case))
    assert message, f"{case.name} was accepted by the API server"
    assert case.server is not None
    assert case.server in message
