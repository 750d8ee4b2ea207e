"""`canarygate run`'s verdict API flags: what they set, and bad values refused with one line
and exit 2 before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from canarygate.cli.main import build_parser, main
from canarygate.cli.operating import settings_from
from canarygate.operator.receivers import SecretRef

from .test_run_notifications import kubeconfig  # noqa: F401 (a fixture)


def test_the_verdict_api_is_off_unless_given_an_address(kubeconfig: str) -> None:  # noqa: F811
    settings = settings_from(build_parser().parse_args(["run", kubeconfig])).verdict
    assert settings.address is None
    assert settings.auth.token_review
    assert settings.verdicts.max_age_seconds == 120.0
    assert (settings.rate, settings.burst) == (20.0, 40.0)


def test_the_flags_set_the_address_tokens_limits_and_tls(
    kubeconfig: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_text("cert")
    key.write_text("key")
    args = build_parser().parse_args(
        [
            "run", kubeconfig, "--verdict-address", "0.0.0.0:8082",
            "--verdict-token-secret", "shop/tokens", "--verdict-token-secret", "shop/tokens",
            "--verdict-token-secret", "payments/tokens", "--verdict-no-token-review",
            "--verdict-audience", "canarygate", "--verdict-max-age", "30s",
            "--verdict-rate-limit", "5", f"--verdict-tls-cert-file={cert}",
            f"--verdict-tls-key-file={key}",
        ]
    )  # fmt: skip
    settings = settings_from(args).verdict
    assert settings.address == "0.0.0.0:8082"
    assert settings.auth.token_secrets == (
        SecretRef("shop", "tokens"),
        SecretRef("payments", "tokens"),
    )
    assert not settings.auth.token_review
    assert settings.auth.audiences == ("canarygate",)
    assert settings.verdicts.max_age_seconds == 30.0
    assert (settings.rate, settings.burst) == (5.0, 10.0)
    assert (settings.tls_cert_file, settings.tls_key_file) == (str(cert), str(key))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--verdict-address", "8082"], "--verdict-address: '8082' is not host:port"),
        (["--verdict-token-secret", "tokens"],
         "--verdict-token-secret: 'tokens' is not NAMESPACE/NAME"),
        (["--verdict-address", ":8082", "--verdict-no-token-review"],
         "--verdict-no-token-review: then --verdict-token-secret must name at least one Secret"),
        (["--verdict-max-age", "2h"], "--verdict-max-age: must be between 1s and 1h"),
        (["--verdict-max-age", "soon"], "--verdict-max-age:"),
        (["--verdict-rate-limit", "0"], "--verdict-rate-limit: must be between 0.1 and 100000"),
        (["--verdict-tls-cert-file", "/nonexistent"], "go together"),
        (["--verdict-tls-cert-file", "/nonexistent", "--verdict-tls-key-file", "/nonexistent"],
         "--verdict-tls-cert-file: /nonexistent: no such file"),
    ],
)  # fmt: skip
def test_bad_values_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
    kubeconfig: str,  # noqa: F811
    flags: list[str],
    message: str,
) -> None:
    assert main(["run", kubeconfig, *flags]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("canarygate: ")
    assert message in err
    assert err.count("\n") == 1
