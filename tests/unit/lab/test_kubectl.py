"""Which kubectl the lab, the benchmarks and the e2e tests run."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.kubectl import find_kubectl


@pytest.fixture
def kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CANARYGATE_KUBECTL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))
    return tmp_path / "kubeconfig"


def executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_environment_names_it_first(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARYGATE_KUBECTL", "/opt/kubectl")
    (kubeconfig.parent / "cluster.env").write_text("CANARYGATE_KUBECTL=/elsewhere\n")
    assert find_kubectl(kubeconfig) == "/opt/kubectl"


def test_then_the_control_planes_beside_its_kubeconfig(kubeconfig: Path) -> None:
    built = executable(kubeconfig.parent / "kubectl-1.34")
    (kubeconfig.parent / "cluster.env").write_text(f"OTHER=1\nCANARYGATE_KUBECTL={built}\n")
    assert find_kubectl(kubeconfig) == str(built)


def test_a_recorded_kubectl_that_is_gone_falls_back_to_path(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (kubeconfig.parent / "cluster.env").write_text("CANARYGATE_KUBECTL=/no/such/kubectl\n")
    assert find_kubectl(kubeconfig) is None
    on_path = kubeconfig.parent / "bin"
    on_path.mkdir()
    executable(on_path / "kubectl")
    monkeypatch.setenv("PATH", str(on_path))
    assert find_kubectl(kubeconfig) == str(on_path / "kubectl")
