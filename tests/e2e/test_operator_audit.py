"""The audit of spec edits on a live rollout: an edit made while the gate is in progress is
recorded in its history (generation, fields, looser or stricter) with an Event, and a looser
guardrail restarts the count of passes.

The gate is high risk (two passing evaluations per step) and every step waits for an
approval, so it sits at 0 % in WaitingForApproval with one pass counted: a stable moment to edit
it, and one where a restarted count shows in status.
"""

from __future__ import annotations

from typing import Any

import pytest
from lightkube.types import PatchType

from lab import scenarios as sc
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import Scenario

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240), pytest.mark.usefixtures("own_crd")]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


def edits(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in status.get("history") or [] if "generation" in h]


def test_an_edit_during_a_rollout_is_recorded_and_a_looser_guardrail_restarts_the_count(
    scenario: Scenario,
) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            risk="high",
            steps=[20, 60],
            interval="2s",
            approval={"steps": "all"},
        )
    )
    waiting = scenario.wait_gate(
        "web",
        "the gate to wait for the approval of its first step, one pass counted",
        lambda s: s.get("phase") == "WaitingForApproval" and s.get("consecutivePasses") == 1,
        timeout=90,
    )
    assert waiting["specAudit"]["generation"] == 1
    # Every version of the gate from now: the hold below lasts one evaluation (2 s), which a
    # poll of the status could miss on a busy machine.
    watch = scenario.watch("CanaryGate", "web")

    scenario.patch(
        "CanaryGate",
        "web",
        [{"op": "replace", "path": "/spec/canary/guardrails/0/maxIncrease", "value": 0.05}],
        patch_type=PatchType.JSON,
    )
    recorded = scenario.wait_gate(
        "web", "the edit to be recorded", lambda s: bool(edits(s)), timeout=60
    )
    (entry,) = edits(recorded)
    assert entry["generation"] == 2
    assert entry["changes"] == [
        "spec.canary.guardrails[error-rate].maxIncrease: 0.02 -> 0.05 (looser)"
    ]
    assert entry["reason"].endswith("a looser rule: the count of passes at 0% restarts")
    assert entry["weightFrom"] == entry["weightTo"] == 0
    assert recorded["specAudit"]["generation"] == 2
    scenario.wait_event("web", "SpecEdited")

    # The count restarted: the gate, which waited for a person with its passes earned, needs a
    # pass under the new rule again before it waits anew (without the restart it would have
    # gone on waiting).
    def needs_a_pass(status: dict[str, Any]) -> bool:
        return (
            status.get("phase") == "Pending"
            and (status.get("reasonCodes") or [None])[0] == "ConsecutivePassesNeeded"
            and bool(edits(status))
        )

    wait_until(
        "a pass needed again at 0 %",
        lambda: any(needs_a_pass(b.get("status") or {}) for b in watch.bodies()),
        timeout=30,
    )

    # A stricter edit is recorded too and keeps the count.
    scenario.wait_gate(
        "web",
        "one pass counted again",
        lambda s: s.get("consecutivePasses") == 1 and s.get("phase") == "WaitingForApproval",
        timeout=60,
    )
    scenario.patch(
        "CanaryGate",
        "web",
        [{"op": "replace", "path": "/spec/canary/guardrails/0/maxIncrease", "value": 0.03}],
        patch_type=PatchType.JSON,
    )
    second = scenario.wait_gate(
        "web", "the second edit to be recorded", lambda s: len(edits(s)) == 2, timeout=60
    )
    assert edits(second)[1]["changes"] == [
        "spec.canary.guardrails[error-rate].maxIncrease: 0.05 -> 0.03 (stricter)"
    ]
    assert second["consecutivePasses"] == 1
    assert second["weight"] == 0  # nothing moved: the step still waits for its approval
