"""The real API server refuses the same invalid CanaryGates as the CLI (shared cases in
tests/fixtures/invalid_gates.py), through the CRD's schema and CEL rules; kubectl itself
refuses NaN and infinities (its YAML-to-JSON step cannot encode them). Edits of the
example's YAML text that the CLI accepts (YAML 1.1 booleans, timestamp-like strings) are
accepted here too."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.helpers import Cluster, wait_until
from tests.fixtures.invalid_gates import (
    CASES,
    NAMED_CASES,
    TEXT_CASES,
    VALID_TEXTS,
    InvalidCase,
    TextCase,
    build,
    edited,
    example_gate,
)

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
SERVER_CHECKED = [case for case in CASES if case.server is not None]
SERVER_CHECKED_TEXTS = [case for case in TEXT_CASES if case.server is not None]


@pytest.fixture(scope="module")
def crd(cluster: Cluster, own_crd: None) -> None:
    """This checkout's CRD, kept served while the module runs (operator_fixtures.CrdGuard)."""


def refusal_of_text(cluster: Cluster, text: str) -> str:
    done = subprocess.run(
        [cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", "create",
         "--dry-run=server", "--filename=-", "--output=name"],
        input=text, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return "" if done.returncode == 0 else done.stderr


def refusal(
    cluster: Cluster, namespace: str, document: dict[str, Any], *, keep_name: bool = False
) -> str:
    name = document["metadata"]["name"] if keep_name else "validation"
    document = {**document, "metadata": {"name": name, "namespace": namespace}}
    return refusal_of_text(cluster, yaml.safe_dump(document))


def in_namespace(text: str, namespace: str) -> str:
    """The example's text, created as `validation` in the test's namespace."""
    assert "  name: checkout-v2\n  namespace: shop\n" in text
    return text.replace("name: checkout-v2\n", "name: validation\n", 1).replace(
        "namespace: shop\n", f"namespace: {namespace}\n", 1
    )


def test_the_example_gate_is_accepted(cluster: Cluster, namespace: str, crd: None) -> None:
    # Right after Established the new type may take a moment to be served.
    wait_until(
        "the example CanaryGate to pass server-side validation",
        lambda: refusal(cluster, namespace, example_gate()) == "" or None,
        timeout=30,
    )


EXAMPLE_GATES = sorted(
    p
    for p in (*REPO.glob("examples/*.yaml"), *REPO.glob("examples/demo/*.yaml"))
    if any(d and d.get("kind") == "CanaryGate" for d in yaml.safe_load_all(p.read_text()))
)


@pytest.mark.parametrize("path", EXAMPLE_GATES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_example_gate_is_accepted(
    cluster: Cluster, namespace: str, crd: None, path: Path
) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == "CanaryGate":
            wait_until(
                f"{path.name} to pass server-side validation",
                lambda document=document: refusal(cluster, namespace, document) == "" or None,
                timeout=30,
            )


@pytest.mark.parametrize("case", SERVER_CHECKED, ids=lambda c: c.name)
def test_the_api_server_refuses_invalid_gates(
    cluster: Cluster, namespace: str, crd: None, case: InvalidCase
) -> None:
    message = refusal(cluster, namespace, build(case), keep_name=case.name in NAMED_CASES)
    assert message, f"{case.name} was accepted by the API server"
    assert case.server is not None
    assert case.server in message


@pytest.mark.parametrize("case", SERVER_CHECKED_TEXTS, ids=lambda c: c.name)
def test_kubectl_and_the_api_server_refuse_invalid_texts(
    cluster: Cluster, namespace: str, crd: None, case: TextCase
) -> None:
    message = refusal_of_text(cluster, in_namespace(edited(case.old, case.new), namespace))
    assert message, f"{case.name} was accepted"
    assert case.server is not None
    assert case.server in message


@pytest.mark.parametrize(("name", "old", "new"), VALID_TEXTS, ids=[v[0] for v in VALID_TEXTS])
def test_the_api_server_accepts_what_the_cli_accepts(
    cluster: Cluster, namespace: str, crd: None, name: str, old: str, new: str
) -> None:
    assert refusal_of_text(cluster, in_namespace(edited(old, new), namespace)) == "", name
