"""Customer health and release risk steering a live rollout:

- a fleet-wide incident (the simulator fails stable and canary alike) turns health red: the gate
  freezes where it is (mode freeze, no rollback, the weight kept) and advances again once health
  returns;
- a high-risk release on green health is guarded: every step needs two consecutive passing
  evaluations (consecutivePasses reaches 1 first, and steps are two intervals apart).

The gates use short burn-rate windows (red: >= 5 over 2m and 1m, see lab.scenarios.short_health)
so that health turns red within seconds and green again within about half a minute.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import Scenario, history_steps, managed_weights, sequence_of

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240), pytest.mark.usefixtures("own_crd")]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
# 10 % of every request fails: twice the red threshold (5 % errors at objective 99), so the
# burn rate crosses it within seconds, and once cleared the windows' average falls below it
# again within about as long as the fault lasted after that.
FLEET_ERROR_RATIO = 0.1


def prepare(scenario: Scenario) -> Simulator:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    return scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def create_gate(scenario: Scenario, **settings: Any) -> None:
    scenario.create(
        sc.gate(
            "web",
            scenario.namespace,
            scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
            **settings,
        )
    )


def weights(scenario: Scenario) -> list[tuple[int, int]]:
    return managed_weights(scenario.must_get("HTTPRoute", ROUTE), STABLE, CANARY)


def decisions(scenario: Scenario, **labels: str) -> float:
    return scenario.stage.operator_metric("canarygate_decisions_total", **labels)


def test_a_fleet_wide_incident_freezes_without_rollback_and_the_gate_resumes(
    scenario: Scenario,
) -> None:
    simulator = prepare(scenario)
    # The incident starts the moment the canary takes its first step. The guardrail's window
    # is the interval, so at the next evaluation canary and stable are measured over the same
    # seconds, all of them in the incident: both fail alike. (A window longer than the time
    # since the step would compare the canary's incident-only seconds with a baseline diluted
    # by the calm before, and see a regression the canary did not cause.)
    route = scenario.watch("HTTPRoute", ROUTE)
    incident = route.when(
        "the canary's first step",
        lambda body: managed_weights(body, STABLE, CANARY) == [(80, 20)],
        lambda _: simulator.set_faults(fleetErrorRatio=FLEET_ERROR_RATIO),
    )
    guardrail = sc.error_guardrail(scenario.label, window="5s", max_increase=0.03)
    # A short freeze cooldown: the hysteresis after red is test_operator_incidents' subject.
    create_gate(
        scenario, steps=[20, 40, 60, 80], interval="5s", guardrails=[guardrail],
        policy={"freezeCooldown": "2s"},
    )  # fmt: skip
    assert incident.wait(60), "the canary never took its first step"

    frozen = scenario.wait_gate(
        "web", "the gate to freeze", lambda s: s.get("mode") == "freeze", timeout=60
    )
    held = frozen["weight"]
    assert 20 <= held < 100, "frozen on a canary step, not promoted"
    assert frozen["health"] == "red"
    assert frozen["action"] == "hold"
    assert frozen["phase"] == "Progressing"
    assert [j["health"] for j in frozen["journeys"]] == ["red"]
    # Both sides fail alike, so the canary's guardrail passes: nothing to roll back.
    assert frozen["guardrails"][0]["verdict"] in ("pass", "inconclusive")
    assert frozen["guardrails"][0]["consecutiveFailures"] == 0
    scenario.wait_event("web", "Frozen")

    # Two more frozen evaluations: the weight stays, nothing is rolled back.
    seen = decisions(scenario, mode="freeze")
    scenario.steady(
        f"the frozen gate at {held} %",
        lambda: (
            weights(scenario) == [(100 - held, held)]
            and scenario.status("web").get("weight") == held
            and scenario.status("web").get("phase") == "Progressing"
        ),
        until=lambda: decisions(scenario, mode="freeze") >= seen + 2,
        timeout=30,
    )
    assert decisions(scenario, mode="freeze", action="rollback") == 0
    # By now the canary has its samples: the freeze itself is the deciding reason.
    assert scenario.status("web")["message"] == "hold: customer health is red; traffic is frozen"

    simulator.clear_faults()

    resumed = scenario.wait_gate(
        "web",
        "the gate to advance again once health returns",
        lambda s: (s.get("weight") or 0) > held,
        timeout=120,
    )
    assert resumed["health"] == "green"
    steps = history_steps(resumed)
    assert "rollback" not in [action for action, _, _ in steps]
    after_freeze = steps[[s[2] for s in steps].index(held) + 1]
    assert after_freeze[:2] == ("advance" if held < 80 else "promote", held)

    # The story in Events: frozen, the freeze's cooldown once health left red (a hold that
    # says until when), then moving again (an Unfrozen Event is posted only when the first
    # evaluation after the freeze holds; here it may advance at once).
    def moving_again() -> list[dict[str, Any]] | None:
        # The Event of the move is posted after the status that shows it: wait for it.
        events = scenario.events("web")
        reasons = [str(e["reason"]) for e in events]
        after = [
            e for e in events[reasons.index("Frozen") + 1 :]
            if not str(e.get("message", "")).startswith("hold: frozen: ")
        ]  # fmt: skip
        return after or None

    after = wait_until("an Event after the freeze", moving_again, timeout=30)
    reasons = scenario.event_reasons("web")
    assert after[0]["reason"] in ("Unfrozen", "Advanced", "Promoted"), reasons
    assert "RolledBack" not in reasons


def test_a_high_risk_release_needs_two_passing_evaluations_per_step(scenario: Scenario) -> None:
    prepare(scenario)
    watch = scenario.watch("CanaryGate", "web")
    create_gate(scenario, risk="high", steps=[20, 60], interval="2s")

    status = scenario.wait_phase("web", "Promoted", timeout=120)

    assert history_steps(status) == [
        ("hold", 0, 0),
        ("advance", 0, 20),
        ("advance", 20, 60),
        ("promote", 60, 100),
    ]
    assert {h.get("mode") for h in status["history"][1:]} == {"guarded"}
    assert {h.get("risk") for h in status["history"][1:]} == {"high"}
    # Before each move, at the weight it moved from, the status showed one pass of two.
    one_pass = sequence_of(
        [
            (s.get("weight"), s.get("mode"))
            for s in (b.get("status") or {} for b in watch.bodies())
            if s.get("consecutivePasses") == 1
        ]
    )
    assert one_pass == [(0, "guarded"), (20, "guarded"), (60, "guarded")]
    # And the moves are at least two intervals apart (times are whole seconds).
    times = [datetime.fromisoformat(h["time"]) for h in status["history"][1:]]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 2 * 2 - 1 for gap in gaps), gaps
    assert status["risk"] == "high"
