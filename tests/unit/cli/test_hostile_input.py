"""Issue #6: every bad file, argument or setting a careless or hostile user can give ends in
exit 2 and exactly one `canarygate: ...` line on stderr; nothing ends in a traceback."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from canarygate.api import parse_gate, to_gate_spec
from canarygate.cli import main as cli
from canarygate.cli import options
from canarygate.cli.main import main
from canarygate.cli.rendering import decision_table
from canarygate.cli.sanitising import printable
from canarygate.core import Reason, ReasonCode, decide
from canarygate.core.errors import ConfigurationError
from canarygate.core.state import GateState
from tests.fixtures.invalid_gates import (
    EXAMPLE,
    TEXT_CASES,
    VALID_TEXTS,
    TextCase,
    edited,
    example_gate,
)
from tests.unit.core.builders import silence

UNREACHABLE = ["--prometheus", "http://127.0.0.1:9", "--retries", "0"]
ROOT = Path(__file__).resolve().parents[3]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The one line of stderr of a run that must exit 2 and print nothing on stdout."""
    code, out, err = run(capsys, *args)
    assert (code, out) == (2, ""), err
    assert err.startswith("canarygate: ")
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


def write(tmp_path: Path, content: str | bytes, name: str = "gate.yaml") -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return str(path)


# Files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (bytes(range(256)), "not UTF-8 text (byte 0x80 at offset 128)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8 text (byte 0x89 at offset 0)"),
        (b"\x00\x01\x02", "character #x0000 is not allowed in YAML"),
        (b"", "holds no CanaryGate"),
        (b"# only a comment\n", "holds no CanaryGate"),
        (b"kind: List\nitems: 5\n", "items: must be a list, got an integer"),
        (b"kind: List\nitems: [1, two]\n", "items[0]: a CanaryGate must be a mapping"),
        (b"a: 1\n", "apiVersion: expected canarygate.io/v1alpha1 CanaryGate"),
        (b"[" * 10_000, "nests deeper than 100 levels"),
        (b"a: [1, 2\n", "gate.yaml:2:1: not valid YAML"),
    ],
    ids=[
        "binary", "png", "nul", "empty", "comment", "list-items-5", "list-items-scalars",
        "no-gate", "deep", "yaml-error",
    ],
)  # fmt: skip
def test_bad_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    line = refused(capsys, "-f", write(tmp_path, content), *UNREACHABLE)
    assert expected in line
    assert "<unicode string>" not in line


def test_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absent = tmp_path / "absent.yaml"
    for path, reason in [
        (tmp_path, f"cannot read {tmp_path}: it is a directory"),
        (absent, f"cannot read {absent}: No such file or directory"),
        ("/dev/zero", "cannot read /dev/zero: larger than 4 MiB, the limit for a manifest"),
    ]:
        assert refused(capsys, "-f", str(path), *UNREACHABLE) == f"canarygate: {reason}"


def test_closed_stdin_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", None)
    line = refused(capsys, "-f", "-", *UNREACHABLE)
    assert line == "canarygate: cannot read standard input: it is closed"


def test_closed_stdin_for_real() -> None:
    """`canarygate evaluate -f - 0<&-`: the process starts with no file descriptor 0."""
    done = subprocess.run(
        [sys.executable, "-m", "canarygate.cli.main", "evaluate", "-f", "-", *UNREACHABLE],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        pass_fds=(), preexec_fn=lambda: os.close(0), cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "canarygate: cannot read standard input: it is closed\n"


def test_an_error_in_the_second_document_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = EXAMPLE.read_text()
    path = write(tmp_path, text + "---\n" + text.replace("steps: [5,", 'steps: ["5",'))
    line = refused(capsys, "-f", path, *UNREACHABLE)
    assert line == (
        f"canarygate: invalid spec: {path} document 2: spec.canary.steps[0]: "
        "must be an integer, got a string"
    )


@pytest.mark.parametrize("case", TEXT_CASES, ids=lambda c: c.name)
def test_text_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: TextCase) -> None:
    line = refused(capsys, "-f", write(tmp_path, edited(case.old, case.new)), *UNREACHABLE)
    assert case.message in line


@pytest.mark.parametrize(("name", "old", "new"), VALID_TEXTS, ids=[v[0] for v in VALID_TEXTS])
def test_valid_texts_are_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, old: str, new: str
) -> None:
    code, out, err = run(capsys, "-f", write(tmp_path, edited(old, new)), *UNREACHABLE)
    assert (code, err) == (0, ""), name
    assert out.startswith("Gate:    shop/checkout-v2")


# Arguments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--at", "inf"], "--at: 'inf' is not a finite number of seconds"),
        (["--at", "-inf"], "--at: '-inf' is not a finite number of seconds"),
        (["--at", "nan"], "--at: 'nan' is not a finite number of seconds"),
        (["--at", "1e20"], "--at: '1e20' seconds is outside the years 1 to 9999"),
        (["--at", "-1e20"], "--at: '-1e20' seconds is outside the years 1 to 9999"),
        (["--at", "0001-01-01T00:00:00+01:00"], "is outside the years 1 to 9999 in UTC"),
        (["--at", "2026-13-01"], "is neither RFC 3339"),
        (["--timeout", "300y"], "--timeout: must be between 1s and 5m, got 300y"),
        (["--timeout", "5m1ms"], "--timeout: must be between 1s and 5m, got 5m1ms"),
        (["--timeout", "999ms"], "--timeout: must be between 1s and 5m, got 999ms"),
        (["--timeout", "0"], "--timeout: '0' is not a duration"),
        (["--timeout", "0s"], "--timeout: '0s' must be longer than zero"),
        (["--timeout", ""], "--timeout: '' is not a duration"),
        (["--retries", "11"], "argument --retries: 11 is outside 0..10"),
        (["--retries", "-1"], "argument --retries: -1 is outside 0..10"),
        (["--retries", "1e3"], "argument --retries: '1e3' is not a whole number"),
        (["--weight", "-1"], "argument --weight: -1 is outside 0..100"),
        (["-o", "yaml"], "argument -o/--output: invalid choice: 'yaml'"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_arguments(capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    line = refused(capsys, "-f", str(EXAMPLE), *UNREACHABLE, *args)
    assert expected in line


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("http://[::1", "--prometheus: http://[::1 is not a valid URL"),
        ("http://prometheus:99999", "--prometheus: http://prometheus:99999 is not a valid URL"),
        ("ftp://x", "--prometheus: ftp://x: the scheme must be http or https"),
        ("http://", "--prometheus: http://: the URL names no host"),
        ("http://a b", "--prometheus: http://a b is not a URL"),
    ],
)
def test_bad_prometheus_flag(
    capsys: pytest.CaptureFixture[str], address: str, expected: str
) -> None:
    line = refused(capsys, "-f", str(EXAMPLE), "--prometheus", address, "--retries", "0")
    assert line == f"canarygate: {expected}" or expected in line


def test_bad_prometheus_variable_is_named_when_it_is_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CANARYGATE_PROMETHEUS_URL", "ftp://x")
    # The example names its own Prometheus: the variable is not needed, not checked.
    code, _, err = run(capsys, "-f", str(EXAMPLE), "--retries", "0", "--timeout", "1s")
    assert (code, err) == (0, "")
    text = EXAMPLE.read_text().replace(
        "  prometheus:\n    address: http://127.0.0.1:9090", "  prometheus: null"
    )
    assert "prometheus: null" in text
    line = refused(capsys, "-f", write(tmp_path, text), "--retries", "0")
    assert (
        line == "canarygate: $CANARYGATE_PROMETHEUS_URL: ftp://x: the scheme must be http or https"
    )


def test_times_before_1970_are_fine(capsys: pytest.CaptureFixture[str]) -> None:
    for at, shown in [("-86400", "1969-12-31T00:00:00Z"), ("0001-01-01T00:00:00Z", "0001-01-01")]:
        code, out, err = run(capsys, "-f", str(EXAMPLE), *UNREACHABLE, "--at", at, "-o", "json")
        assert (code, err) == (0, "")
        assert f'"at": "{shown}' in out


def test_help_and_version_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert main(["evaluate", "--help"]) == 0
    out = capsys.readouterr().out
    assert "0..10" in out
    assert "1s..5m" in out


def test_no_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# TLS and credentials ---------------------------------------------------------------------

PEM_GARBAGE = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize(
    ("option", "content", "expected"),
    [
        ("--ca-file", None, "--ca-file: cannot read {path}: No such file or directory"),
        ("--ca-file", "dir", "--ca-file: {path} is a directory"),
        ("--ca-file", b"\xff\xfe", "--ca-file: {path} is not UTF-8 text"),
        ("--ca-file", "not a certificate\n", "--ca-file: {path} holds no PEM certificate"),
        ("--ca-file", PEM_GARBAGE, "--ca-file: {path} is not a usable CA bundle"),
        ("--bearer-token-file", b"\x00\x01token", "--bearer-token-file: {path} holds U+0000"),
        ("--bearer-token-file", b"\xff", "--bearer-token-file: {path} is not UTF-8 text"),
        ("--bearer-token-file", "t\u00f6ken", "--bearer-token-file: {path} holds U+00F6"),
        ("--bearer-token-file", "two words", "--bearer-token-file: {path} holds U+0020"),
        ("--bearer-token-file", "\n", "--bearer-token-file: {path} is empty"),
        ("--bearer-token-file", "dir", "--bearer-token-file: {path} is a directory"),
        ("--basic-auth-file", "user-password\n", "--basic-auth-file: {path} must hold user:"),
        ("--basic-auth-file", ":secret", "--basic-auth-file: {path} names no user"),
        ("--basic-auth-file", "user:pa\nss", "--basic-auth-file: {path} holds U+000A"),
        ("--basic-auth-file", "user:p\u00e4ss", "--basic-auth-file: {path} holds U+00E4"),
        ("--basic-auth-file", "a" * 70_000, "--basic-auth-file: {path} is larger than 64 KiB"),
    ],
)  # fmt: skip
def test_bad_tls_and_credential_files(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    content: str | bytes | None,
    expected: str,
) -> None:
    path = tmp_path / "secret"
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    line = refused(capsys, "-f", str(EXAMPLE), *UNREACHABLE, option, str(path))
    assert line.startswith("canarygate: " + expected.format(path=path))


def test_good_credentials_are_used(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import certifi

    token, basic = tmp_path / "token", tmp_path / "basic"
    token.write_text("eyJhbGciOi.J9-x_y~z+/=\n")
    basic.write_text("user:p ss:word\n")
    for option, path in [
        ("--bearer-token-file", token),
        ("--basic-auth-file", basic),
        ("--ca-file", Path(certifi.where())),
    ]:
        code, _, err = run(capsys, "-f", str(EXAMPLE), *UNREACHABLE, option, str(path))
        assert (code, err) == (0, ""), option


def test_a_configuration_error_from_the_client_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise ConfigurationError("--ca-file: /x is not PEM")

    monkeypatch.setattr(options, "prometheus_config", refuse)
    assert refused(capsys, "-f", str(EXAMPLE), *UNREACHABLE) == (
        "canarygate: --ca-file: /x is not PEM"
    )


# The last resort -------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_: object) -> None:
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(cli, "load_gates", explode)
    monkeypatch.delenv("CANARYGATE_DEBUG", raising=False)
    code, out, err = run(capsys, "-f", str(EXAMPLE), *UNREACHABLE)
    assert (code, out) == (1, "")
    assert err == (
        "canarygate: internal error: RuntimeError: boom\\nsecond line "
        "(set CANARYGATE_DEBUG=1 for a traceback)\n"
    )
    monkeypatch.setenv("CANARYGATE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["evaluate", "-f", str(EXAMPLE), *UNREACHABLE])


def test_an_interrupt_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "load_gates", interrupt)
    code, _, err = run(capsys, "-f", str(EXAMPLE), *UNREACHABLE)
    assert (code, err) == (130, "canarygate: interrupted\n")


# Output that cannot forge lines ----------------------------------------------------------


def test_printable_escapes_what_could_forge_or_recolour_a_line() -> None:
    assert printable("plain text, caf\u00e9") == "plain text, caf\u00e9"
    assert printable("a\nb\r\tc\x1b[31md\x7f\u202ee\u2028") == (
        "a\\nb\\r\\tc\\x1b[31md\\x7f\\u202ee\\u2028"
    )
    forged = printable("x\n\x1b[2J\x1b]0;title\x07\u0085")
    assert forged.isprintable()
    assert printable(forged) == forged


def test_table_output_is_sanitised() -> None:
    gate = parse_gate(example_gate())
    spec = to_gate_spec(gate)
    at = datetime(2026, 1, 15, 12, tzinfo=UTC)
    decision = decide(spec, GateState(), silence(spec), at)
    hostile = "Prometheus said\nAction:  PROMOTE\x1b[32m   weight 100%\x1b[0m"
    guardrails = tuple(dataclasses.replace(g, finding=hostile) for g in decision.guardrails)
    decision = dataclasses.replace(
        decision,
        reasons=(Reason(ReasonCode.HOLD, hostile), *decision.reasons),
        guardrails=guardrails,
    )
    table = decision_table(gate, decision)
    assert "\x1b" not in table
    assert [line for line in table.splitlines() if line.startswith("Action:")] == [
        "Action:  HOLD   weight 0% -> 0%"
    ]
    assert "Prometheus said\\nAction:  PROMOTE\\x1b[32m" in table
    assert all(line.isprintable() for line in table.splitlines())
