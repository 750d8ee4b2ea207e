"""evaluate's JSON (additive keys) and table name the worst segments with their numbers and
each success metric's lift and sample sizes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from canarygate.api import parse_gate
from canarygate.cli.rendering import decision_document, decision_table
from canarygate.core import GateState, decide
from tests.fixtures.invalid_gates import example_gate
from tests.unit.api.test_status_segments import decision
from tests.unit.core.builders import gate, healthy
from tests.unit.core.segment_builders import success_metric, success_observations

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


def test_json_keeps_the_contract_and_adds_segments_and_success_metrics() -> None:
    document = decision_document(parse_gate(example_gate()), decision())
    (journey,) = document["journeys"]
    # The stable keys, as before.
    assert {"name", "health", "burnRates", "budgetRemaining"} <= set(journey)
    assert journey["health"] == "red"
    assert journey["overall"] == "green"
    assert len(journey["segments"]) == 4  # every judged segment, worst first
    assert journey["segments"][0]["segment"] == {"region": "eu-west"}
    assert journey["segments"][0]["findings"][0].startswith("burn rate 50 over 1h")
    (guardrail,) = document["guardrails"]
    assert guardrail["verdict"] == "fail"
    assert [s["segment"] for s in guardrail["segments"]] == [{"tier": "pro"}, {"tier": "free"}]
    (metric,) = document["successMetrics"]
    assert (metric["verdict"], metric["samples"]) == ("better", 5000.0)
    assert metric["lift"] == pytest.approx(0.1)
    assert metric["allowsPromotion"] is True


def test_the_table_shows_the_worst_segments_under_their_journey() -> None:
    table = decision_table(parse_gate(example_gate()), decision())
    lines = table.splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith("checkout "))
    assert "red (green overall)" in lines[row]
    assert lines[row + 1].startswith("  region eu-west")
    assert " red " in lines[row + 1]
    assert lines[row + 4].strip() == "+1 more"
    assert any(line.startswith("  tier pro") and "FAIL" in line for line in lines)
    metric = next(line for line in lines if line.startswith("conversion"))
    assert "+10.0%" in metric
    assert "5000/20000" in metric


def test_a_promotion_waiting_for_a_person_is_said_in_the_table_and_the_json() -> None:
    spec = replace(gate(), canary=replace(gate().canary, success_metrics=(success_metric(),)))
    observed = {**healthy(spec), **success_observations("conversion", 0.045, 0.05)}
    waiting = decide(spec, GateState(weight=100), observed, NOW)
    gate_doc = parse_gate(example_gate())
    assert decision_document(gate_doc, waiting)["awaitsApproval"] == "promote"
    action = next(line for line in decision_table(gate_doc, waiting).splitlines()
                  if line.startswith("Action:"))  # fmt: skip
    assert (
        action == "Action:  HOLD   weight 100% -> 100%   (waits for a person to approve: promote)"
    )
    assert decision_document(gate_doc, decision())["awaitsApproval"] is None
