"""`canarygate evaluate` against a real Prometheus serving synthetic histories.

Each scenario is described in tests/support/histories.py; the assertions are on the JSON
contract of DESIGN.md, read from the real CLI's stdout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from lab.gates import error_rate_guardrail, gate
from lab.histories import FIXTURE_NOW
from lab.prometheus import free_port

from .running import Evaluate

pytestmark = pytest.mark.integration
NEUTRAL = {"customerNeutral": True, "reversible": True}


def journey(document: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(j for j in document["journeys"] if j["name"] == name)
    return found


@pytest.mark.parametrize(
    ("scenario", "risk", "factors", "health", "mode", "action", "next_weight"),
    [
        ("healthy", "low", {}, "green", "proceed", "advance", 50),
        ("healthy", "high", {}, "green", "guarded", "hold", 25),
        ("yellowburn", "low", {}, "yellow", "neutral-only", "hold", 25),
        ("yellowburn", "low", NEUTRAL, "yellow", "neutral-only", "advance", 50),
        ("yellowburn", "high", NEUTRAL, "yellow", "delay", "hold", 25),
        ("fastburn", "low", NEUTRAL, "red", "freeze", "hold", 25),
        ("fastburn", "high", {}, "red", "freeze", "hold", 25),
        ("gap", "low", NEUTRAL, "unknown", "hold", "hold", 25),
        ("gap", "high", {}, "unknown", "hold", "hold", 25),
    ],
)
def test_every_matrix_cell(
    evaluate: Evaluate,
    scenario: str,
    risk: str,
    factors: dict[str, bool],
    health: str,
    mode: str,
    action: str,
    next_weight: int,
) -> None:
    result = evaluate(gate(scenario, risk=risk, factors=factors), "--weight", "25")
    assert result.code == 0, result.stderr
    document = result.document
    assert (document["health"], document["risk"], document["mode"]) == (health, risk, mode)
    assert document["action"] == action
    assert document["weight"] == {"current": 25, "next": next_weight}
    assert document["reasons"][0].startswith(action)


def test_guarded_step_advances_on_the_second_consecutive_pass(evaluate: Evaluate) -> None:
    status = {"weight": 25, "phase": "Progressing", "consecutivePasses": 1}
    document = evaluate(gate("healthy", risk="high", status=status)).document
    assert (document["action"], document["weight"]["next"]) == ("advance", 50)


def test_auto_risk_from_factors(evaluate: Evaluate) -> None:
    high = evaluate(gate("healthy", risk="auto", factors={"changeType": "schema-migration"}))
    low = evaluate(gate("healthy", risk="auto", factors={"tier": "low", "changeType": "code"}))
    assert (high.document["risk"], high.document["mode"]) == ("high", "guarded")
    assert (low.document["risk"], low.document["mode"]) == ("low", "proceed")


def test_fast_burn_is_red(evaluate: Evaluate) -> None:
    document = evaluate(gate("fastburn"), "--weight", "10").document
    burns = journey(document, "fastburn")["burnRates"]
    assert burns["1h"] == pytest.approx(20, rel=0.02)
    assert burns["5m"] == pytest.approx(20, rel=0.02)
    assert document["health"] == "red"
    assert any("burn rate 20 over 1h" in r for r in document["reasons"])


def test_slow_burn_is_red(evaluate: Evaluate) -> None:
    document = evaluate(gate("slowburn"), "--weight", "10").document
    burns = journey(document, "slowburn")["burnRates"]
    assert burns["6h"] == pytest.approx(7, rel=0.02)
    assert burns["30m"] == pytest.approx(7, rel=0.02)
    assert burns["1h"] < 14.4
    assert document["health"] == "red"


def test_an_old_blip_is_not_red(evaluate: Evaluate) -> None:
    document = evaluate(gate("oldblip"), "--weight", "10").document
    burns = journey(document, "oldblip")["burnRates"]
    # The hour remembers the blip (burn > 100) but the last 5 and 30 minutes are clean.
    assert burns["1h"] > 100
    assert burns["5m"] < 1
    assert burns["30m"] < 1
    assert document["health"] == "yellow"
    assert document["action"] != "rollback"


def test_exhausted_budget_is_red(evaluate: Evaluate) -> None:
    document = evaluate(gate("exhausted"), "--weight", "10").document
    assert journey(document, "exhausted")["budgetRemaining"] == pytest.approx(-0.2, abs=0.01)
    assert document["health"] == "red"
    assert document["action"] == "hold"


def test_telemetry_gap_is_unknown_and_holds(evaluate: Evaluate) -> None:
    document = evaluate(gate("gap", risk="low"), "--weight", "10").document
    burns = journey(document, "gap")["burnRates"]
    assert burns["5m"] is None
    assert burns["30m"] == pytest.approx(0.1, rel=0.05)
    assert (document["health"], document["action"]) == ("unknown", "hold")
    assert document["weight"]["next"] == 10


def test_zero_traffic_is_unknown_not_perfect(evaluate: Evaluate) -> None:
    document = evaluate(gate("idle"), "--weight", "10").document
    assert journey(document, "idle")["burnRates"]["5m"] is None
    assert (document["health"], document["action"]) == ("unknown", "hold")


def test_prometheus_down_is_a_hold_decision(evaluate: Evaluate) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    guardrails = [error_rate_guardrail("broken")]
    remembered = [{"name": "broken-errors", "verdict": "fail", "consecutiveFailures": 3}]
    status = {"weight": 50, "phase": "Progressing", "guardrails": remembered}
    result = evaluate(
        gate("healthy", guardrails=guardrails, status=status),
        "--retries",
        "1",
        prometheus_url=down,
    )
    assert result.code == 0
    document = result.document
    assert (document["health"], document["mode"], document["action"]) == ("unknown", "hold", "hold")
    assert document["weight"] == {"current": 50, "next": 50}
    assert "PrometheusUnavailable" in document["reasonCodes"]
    assert document["guardrails"][0]["verdict"] == "inconclusive"


def test_latency_histogram_journeys(evaluate: Evaluate) -> None:
    ok = evaluate(gate("latency-ok"), "--weight", "10").document
    slow = evaluate(gate("latency-slow"), "--weight", "10").document
    assert ok["health"] == "green"
    assert journey(ok, "latency-ok")["burnRates"]["1h"] == pytest.approx(0.2, rel=0.05)
    assert slow["health"] == "red"
    assert journey(slow, "latency-slow")["burnRates"]["5m"] == pytest.approx(20, rel=0.05)


def test_non_critical_journey_makes_health_at_most_yellow(evaluate: Evaluate) -> None:
    document = evaluate(
        gate("healthy", ("fastburn", {"critical": False})), "--weight", "10"
    ).document
    assert journey(document, "fastburn")["health"] == "red"
    assert document["health"] == "yellow"


def test_critical_guardrail_failure_rolls_back(evaluate: Evaluate) -> None:
    document = evaluate(
        gate("healthy", guardrails=[error_rate_guardrail("broken")]), "--weight", "25"
    ).document
    (guardrail,) = document["guardrails"]
    assert guardrail["verdict"] == "fail"
    assert guardrail["canary"] == pytest.approx(0.05, rel=0.01)
    assert guardrail["baseline"] == pytest.approx(0.001, rel=0.01)
    assert (document["action"], document["weight"]["next"]) == ("rollback", 0)


def test_failure_limit_is_counted_across_evaluations(evaluate: Evaluate) -> None:
    guardrails = [error_rate_guardrail("broken", failureLimit=2)]
    first = evaluate(gate("healthy", guardrails=guardrails), "--weight", "25").document
    assert first["action"] == "hold"
    status = {
        "weight": 25,
        "phase": "Progressing",
        "guardrails": [{"name": "broken-errors", "verdict": "fail",
                        "consecutiveFailures": first["guardrails"][0]["consecutiveFailures"]}],
    }  # fmt: skip
    second = evaluate(gate("healthy", guardrails=guardrails, status=status)).document
    assert second["action"] == "rollback"


def test_minor_guardrail_failure_holds(evaluate: Evaluate) -> None:
    guardrails = [error_rate_guardrail("broken", severity="minor")]
    document = evaluate(gate("healthy", guardrails=guardrails), "--weight", "25").document
    assert document["guardrails"][0]["verdict"] == "fail"
    assert (document["action"], document["weight"]["next"]) == ("hold", 25)


def test_too_few_samples_is_inconclusive_and_holds(evaluate: Evaluate) -> None:
    guardrails = [error_rate_guardrail("trickle")]
    document = evaluate(gate("healthy", guardrails=guardrails), "--weight", "25").document
    (guardrail,) = document["guardrails"]
    assert guardrail["verdict"] == "inconclusive"
    assert guardrail["samples"] == pytest.approx(12, rel=0.05)
    assert (document["action"], document["weight"]["next"]) == ("hold", 25)


def test_promotion_at_the_last_step(evaluate: Evaluate) -> None:
    guardrails = [error_rate_guardrail("steady")]
    before = evaluate(gate("healthy", guardrails=guardrails), "--weight", "50").document
    last = evaluate(gate("healthy", guardrails=guardrails), "--weight", "100").document
    assert (before["action"], before["weight"]["next"]) == ("advance", 100)
    assert (last["action"], last["weight"]) == ("promote", {"current": 100, "next": 100})


def test_at_accepts_unix_seconds_and_looks_into_the_past(evaluate: Evaluate) -> None:
    rfc = evaluate(gate("fastburn"), "--weight", "10").document
    unix = evaluate(
        gate("fastburn"), "--weight", "10", at=str(int(FIXTURE_NOW.timestamp()))
    ).document
    assert rfc["journeys"] == unix["journeys"]
    before = (FIXTURE_NOW - timedelta(hours=2)).isoformat()
    earlier = evaluate(gate("fastburn"), "--weight", "10", at=before).document
    assert earlier["health"] == "green"
    assert earlier["action"] == "advance"


def test_invalid_spec_exits_2_and_names_the_field(evaluate: Evaluate) -> None:
    document = gate("healthy")
    document["spec"]["journeys"][0]["objective"] = 120
    result = evaluate(document)
    assert result.code == 2
    assert result.stdout == ""
    assert "spec.journeys[0].objective" in result.stderr


def test_a_refused_query_is_the_error_outcome_not_silence(evaluate: Evaluate) -> None:
    document = gate("healthy")
    document["spec"]["journeys"][0]["sli"]["good"] = "sum(rate(http_requests_total[{{window}}]"
    result = evaluate(document, "--weight", "25")
    assert result.code == 0, result.stderr
    answer = result.document
    assert answer["action"] == "hold"
    assert answer["weight"] == {"current": 25, "next": 25}
    assert answer["reasonCodes"][0] == "QueryError"
    assert "configuration error" in answer["reasons"][0]
    errors = answer["errors"]
    assert errors, answer
    assert {e["role"] for e in errors} == {"good"}
    assert all(e["subject"] == "healthy" and e["message"] for e in errors)


def test_swapped_good_and_total_during_an_incident_is_invalid_evidence(
    evaluate: Evaluate,
) -> None:
    document = gate("fastburn", factors=NEUTRAL)
    sli = document["spec"]["journeys"][0]["sli"]
    sli["good"], sli["total"] = sli["total"], sli["good"]
    result = evaluate(document, "--weight", "25")
    assert result.code == 0, result.stderr
    answer = result.document
    assert answer["health"] == "unknown"  # not green: the incident is not read as no errors
    assert answer["action"] == "hold"
    assert "InvalidEvidence" in answer["reasonCodes"]
    assert answer["errors"] == []
