"""`canarygate replay`: every argument checked before anything is fetched (one line, exit 2),
and silence when Prometheus cannot be reached (exit 0, every point held)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from canarygate.cli.main import main
from canarygate.replaying import WeightPath, WeightPathError

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "storefront-gate.yaml"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens there
HOUR = ("--from", "2026-01-13T12:00:00Z", "--to", "2026-01-13T13:00:00Z")


def replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", "-f", str(EXAMPLE), "--prometheus", UNREACHABLE, *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "the following arguments are required: --from"),
        (("--from", "yesterday"), "--from: 'yesterday' is neither RFC 3339"),
        (
            ("--from", "2026-01-13T12:00:00Z", "--to", "2026-01-13T11:00:00Z"),
            "--to (2026-01-13T11:00:00Z) is before --from (2026-01-13T12:00:00Z)",
        ),
        ((*HOUR, "--step", "0s"), "--step: '0s' must be longer than zero"),
        ((*HOUR, "--step", "1x"), "--step: '1x' is not a duration"),
        ((*HOUR, "--step", "2d"), "--step: must be between 1s and 24h, got 2d"),
        ((*HOUR, "--weight-path", "fixed:200"), "--weight-path: 'fixed:200': the weight must"),
        ((*HOUR, "--weight-path", "random"), "--weight-path: 'random' is neither simulate nor"),
        ((*HOUR, "--weight", "101"), "--weight"),
        ((*HOUR, "--plot", "report.txt"), "--plot: report.txt must end in .html, .png, .svg, .pdf"),
        (
            (*HOUR, "--plot", "/nonexistent/dir/r.png"),
            "--plot: /nonexistent/dir is not a directory",
        ),
        (
            ("--from", "2025-01-01T00:00:00Z", "--to", "2026-01-01T00:00:00Z"),
            "--from/--to/--step: 525,601 evaluations; at most 100,000",
        ),
        ((*HOUR, "--timeout", "1h"), "--timeout: must be between 1s and 5m"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = replay(capsys, *args)
    assert (code, out) == (2, "")
    assert err.startswith("canarygate: ")
    assert message in err
    assert err.count("\n") == 1


def test_a_file_of_several_gates_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = yaml.safe_load(EXAMPLE.read_text())
    other = {**gate, "metadata": {"name": "other", "namespace": "shop"}}
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump_all([gate, other]))
    code = main(["replay", "-f", str(path), "--prometheus", UNREACHABLE, *HOUR])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"canarygate: replay takes one CanaryGate; {path} holds 2 (split the file)\n"


def test_an_invalid_spec_names_its_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gate = yaml.safe_load(EXAMPLE.read_text())
    gate["spec"]["health"] = {"maxSampleAge": "2h"}
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(gate))
    code = main(["replay", "-f", str(path), "--prometheus", UNREACHABLE, *HOUR])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"canarygate: invalid spec: {path}: spec.health.maxSampleAge: ")
    assert err.count("\n") == 1


def test_an_unreachable_prometheus_is_silence_held_at_every_point(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = replay(capsys, *HOUR, "--retries", "0", "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["evaluations"] == 61
    (only,) = document["timeline"]
    assert (only["health"], only["mode"], only["action"]) == ("unknown", "hold", "hold")
    assert only["weight"] == {"current": 0, "next": 0}
    assert document["summary"]["actions"] == {"hold": 61}
    assert document["fetch"]["unavailableChunks"] == document["fetch"]["planned"] > 0
    assert err.startswith("replay: warning: ")
    assert "their points count as silence" in err


@pytest.mark.parametrize(
    ("text", "fixed"), [("simulate", None), ("fixed:0", 0), ("fixed:25", 25), ("fixed:100", 100)]
)
def test_weight_paths(text: str, fixed: int | None) -> None:
    path = WeightPath.parse(text)
    assert (path.fixed, path.text) == (fixed, text)


@pytest.mark.parametrize("text", ["", "fixed", "fixed:", "fixed:-1", "fixed:1.5", "held:25"])
def test_bad_weight_paths(text: str) -> None:
    with pytest.raises(WeightPathError):
        WeightPath.parse(text)
