"""`canarygate run`'s notification flags: what they set, and bad values refused with one line
and exit 2 before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarygate.cli.main import build_parser, main
from canarygate.cli.operating import settings_from
from canarygate.operator.receivers import SecretRef

KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


@pytest.fixture
def kubeconfig(tmp_path: Path) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    return f"--kubeconfig={path}"


def test_the_flags_name_secrets_and_bound_each_post_and_its_retries(kubeconfig: str) -> None:
    args = build_parser().parse_args(
        [
            "run", kubeconfig, "--notify-secret", "ops/slack-hook", "--notify-secret", "ops/pager",
            "--notify-secret", "ops/slack-hook", "--notify-timeout", "2s",
            "--notify-retry-for", "10m",
        ]
    )  # fmt: skip
    settings = settings_from(args).notifications
    assert settings.secrets == (SecretRef("ops", "slack-hook"), SecretRef("ops", "pager"))
    assert (settings.timeout_seconds, settings.retry_for_seconds) == (2.0, 600.0)
    defaults = settings_from(build_parser().parse_args(["run", kubeconfig])).notifications
    assert defaults.secrets == ()
    assert (defaults.timeout_seconds, defaults.retry_for_seconds) == (5.0, 120.0)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--notify-secret", "hook"], "--notify-secret: 'hook' is not NAMESPACE/NAME of a Secret"),
        (["--notify-secret", "Ops/hook"], "is not NAMESPACE/NAME"),
        (["--notify-secret", "ops/"], "is not NAMESPACE/NAME"),
        (["--notify-timeout", "500ms"], "--notify-timeout: must be between 1s and 1m"),
        (["--notify-timeout", "5 minutes"], "--notify-timeout:"),
        (["--notify-retry-for", "2h"], "--notify-retry-for: must be at most 1h"),
    ],
)
def test_bad_values_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], kubeconfig: str, flags: list[str], message: str
) -> None:
    assert main(["run", kubeconfig, *flags]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("canarygate: ")
    assert message in err
    assert err.count("\n") == 1
