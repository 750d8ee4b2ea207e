"""`canarygate run`'s replica flags and `canarygate approve`'s arguments: checked before
anything starts, one `canarygate: ...` line and exit 2 when wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarygate.cli.main import build_parser, main
from canarygate.cli.operating import settings_from

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:9"}
users:
- name: someone
  user: {token: not-a-secret}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: someone}
current-context: nowhere
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return str(path)


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("canarygate: ")
    return err.strip()


def test_leader_election_timing_follows_the_lease_duration(kubeconfig: str) -> None:
    args = build_parser().parse_args(
        ["run", f"--kubeconfig={kubeconfig}", "--leader-elect", "--lease-namespace=ops",
         "--lease-name=canarygate.shop", "--lease-duration=30s"]
    )  # fmt: skip
    lease = settings_from(args).leader_election
    assert lease is not None
    assert (lease.namespace, lease.name) == ("ops", "canarygate.shop")
    assert (lease.duration, lease.renew_deadline, lease.renew_every) == (30.0, 20.0, 2.0)
    alone = settings_from(build_parser().parse_args(["run", f"--kubeconfig={kubeconfig}"]))
    assert alone.leader_election is None


def test_the_lease_namespace_defaults_to_the_pod_s(
    kubeconfig: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "canarygate-system")
    args = build_parser().parse_args(["run", f"--kubeconfig={kubeconfig}", "--leader-elect"])
    lease = settings_from(args).leader_election
    assert lease is not None
    assert (lease.namespace, lease.name, lease.duration) == ("canarygate-system", "canarygate", 15)


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--lease-duration=5s", "--lease-duration: must be between 6s and 5m"),
        ("--lease-duration=10m", "--lease-duration: must be between 6s and 5m"),
        ("--lease-duration=soon", "--lease-duration:"),
        ("--lease-name=Not_A_Name", "--lease-name: 'Not_A_Name' is not an object name"),
        ("--lease-namespace=UPPER", "--lease-namespace: 'UPPER' is not a namespace name"),
    ],
)
def test_bad_replica_flags_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], kubeconfig: str, flag: str, message: str
) -> None:
    err = refused(capsys, "run", f"--kubeconfig={kubeconfig}", "--leader-elect", flag)
    assert message in err


@pytest.mark.parametrize("gate", ["checkout", "/checkout", "shop/", ""])
def test_approve_needs_namespace_and_name(
    capsys: pytest.CaptureFixture[str], kubeconfig: str, gate: str
) -> None:
    err = refused(capsys, "approve", gate, f"--kubeconfig={kubeconfig}")
    assert "name the gate as NAMESPACE/NAME" in err


def test_approve_without_a_reachable_cluster_is_one_line(
    capsys: pytest.CaptureFixture[str], kubeconfig: str
) -> None:
    err = refused(capsys, "approve", "shop/checkout", f"--kubeconfig={kubeconfig}")
    assert "127.0.0.1:9" in err or "connection" in err
    assert "not-a-secret" not in err


def test_approve_refuses_a_step_out_of_range(
    capsys: pytest.CaptureFixture[str], kubeconfig: str
) -> None:
    assert main(["approve", "shop/checkout", "--step=101", f"--kubeconfig={kubeconfig}"]) == 2
    assert "101" in capsys.readouterr().err


@pytest.mark.parametrize("spelt", ["DEBUG", "debug", "Debug"])
def test_the_log_level_is_read_in_any_case(kubeconfig: str, spelt: str) -> None:
    args = build_parser().parse_args(["run", f"--kubeconfig={kubeconfig}", f"--log-level={spelt}"])
    assert settings_from(args).log_level == "DEBUG"


def test_an_unknown_log_level_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--log-level" in refused(capsys, "run", "--log-level=verbose")
