"""The control commands refuse what cannot be meant before they reach any cluster: one line
on stderr and exit 2 (the live commands are tested in tests/e2e/test_operator_controls.py)."""

from __future__ import annotations

import pytest

from canarygate.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause", "--all"], "--all needs the namespace: canarygate pause --all -n NAMESPACE"),
        (["abort", "shop/web", "--all", "-n", "shop"], "--all names no gate"),
        (["pause", "shop/web", "-n", "shop"], "-n/--namespace goes with --all"),
        (["abort"], "name the gate as NAMESPACE/NAME, or use --all -n NAMESPACE"),
        (["resume", "web"], "'web': name the gate as NAMESPACE/NAME"),
        (["pause", "--all", "-n", "shop", "--revision", "v2"], "--revision cannot be used"),
        (["promote", "shop/web"], "the following arguments are required: --reason"),
        (["promote", "shop/web", "--reason", "  "], "--reason: say why, in a few words"),
        (["pause", "shop/web", "--reason", "a\nb"], "--reason: one line of printable text"),
        (["resume", "--all", "-n", "shop"], "unrecognized arguments: --all"),
        (["clear-freeze", "shop/web", "--revision", "v2"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("canarygate: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_an_unreachable_cluster_is_one_line(
    tmp_path: object, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    monkeypatch.setenv("HOME", "/nonexistent")
    assert main(["pause", "shop/web", "--kubeconfig", "/nonexistent/kubeconfig"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("canarygate: ")
    assert len(err.strip().splitlines()) == 1
