"""The `canarygate evaluate` contract: exit codes, JSON keys, argument errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from canarygate.cli.main import main, parse_time
from tests.fixtures.invalid_gates import CASES, EXAMPLE, InvalidCase, build

UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens there


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_unreachable_prometheus_is_a_hold_decision_with_exit_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = evaluate(
        capsys, "-f", str(EXAMPLE), "--prometheus", UNREACHABLE, "--retries", "0",
        "--weight", "25", "-o", "json", "--at", "2026-01-15T12:00:00Z",
    )  # fmt: skip
    assert code == 0
    document = json.loads(out)
    assert {
        "health",
        "risk",
        "mode",
        "action",
        "weight",
        "reasons",
        "journeys",
        "guardrails",
    } <= set(document)
    assert (document["health"], document["mode"], document["action"]) == ("unknown", "hold", "hold")
    assert document["weight"] == {"current": 25, "next": 25}
    assert document["at"] == "2026-01-15T12:00:00Z"
    assert any("cannot reach" in r for r in document["reasons"])
    journey = document["journeys"][0]
    assert set(journey) >= {"name", "health", "burnRates", "budgetRemaining"}
    assert journey["burnRates"]["5m"] is None
    assert journey["budgetRemaining"] is None
    guardrail = document["guardrails"][0]
    assert set(guardrail) >= {"name", "verdict", "canary", "baseline"}
    assert guardrail["verdict"] == "inconclusive"


def test_table_output_leads_with_the_action(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = evaluate(
        capsys, "-f", str(EXAMPLE), "--prometheus", UNREACHABLE, "--retries", "0"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("Action:  HOLD")
    assert any(line.startswith("JOURNEY") for line in lines)
    assert any(line.startswith("GUARDRAIL") for line in lines)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_invalid_spec_exits_2_naming_the_field_once(
    case: InvalidCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(build(case)))
    code, out, err = evaluate(capsys, "-f", str(path), "--prometheus", UNREACHABLE)
    assert code == 2
    assert out == ""
    assert err.startswith(f"canarygate: invalid spec: {path}: {case.field}: ")
    assert case.message in err
    assert err.count(f"{case.field}:") == 1
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["--at", "yesterday"],
        ["--weight", "101"],
        ["--weight", "ten"],
        ["--timeout", "5 seconds"],
    ],
    ids=["at", "weight-range", "weight-text", "timeout"],
)
def test_bad_arguments_exit_2(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["evaluate", "-f", str(EXAMPLE), "--prometheus", UNREACHABLE, *args])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("canarygate: ")
    assert err.count("\n") == 1


def test_missing_prometheus_address_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CANARYGATE_PROMETHEUS_URL", raising=False)
    document = yaml.safe_load(EXAMPLE.read_text())
    del document["spec"]["prometheus"]
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(document))
    code, _, err = evaluate(capsys, "-f", str(path))
    assert code == 2
    assert "no Prometheus address" in err


def test_weight_defaults_to_status_weight(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["status"] = {"weight": 50, "phase": "Progressing"}
    path = tmp_path / "gate.yaml"
    path.write_text(yaml.safe_dump(document))
    code, out, _ = evaluate(
        capsys, "-f", str(path), "--prometheus", UNREACHABLE, "--retries", "0", "-o", "json"
    )
    assert code == 0
    assert json.loads(out)["weight"] == {"current": 50, "next": 50}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-15T12:00:00Z", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ("2026-01-15T13:00:00+01:00", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ("2026-01-15T12:00:00.500Z", datetime(2026, 1, 15, 12, 0, 0, 500000, tzinfo=UTC)),
        ("1768478400", datetime(2026, 1, 15, 12, tzinfo=UTC)),
        ("1768478400.5", datetime(2026, 1, 15, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_time_formats(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
