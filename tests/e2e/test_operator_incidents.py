"""The incident-aware freeze live, with a fleet-wide incident in the simulator (stable and
canary failing alike, so customer health turns red and no canary is to blame):

- a hotfix (changeType hotfix, with its incident) proceeds in the guarded mode, two passes per
  step, to its promotion while health is red, and another gate of the same namespace stays
  frozen where it is;
- once health leaves red, a gate stays frozen for its cooldown (status.freeze says until
  when) and takes no step before; another, whose cooldown is 10 minutes, resumes at once when
  `canarygate clear-freeze` clears its freeze.

The gates read short burn-rate windows (lab.scenarios.short_health), so health turns red within
seconds of the incident and green again within about a minute of its end.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.operator_fixtures import REPO, Scenario, managed_weights

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(360), pytest.mark.usefixtures("own_crd")]

FLEET_ERROR_RATIO = 0.1  # twice the red threshold of short_health at objective 99
# Gates without guardrails step on every evaluation; with three steps they promoted 6 s after
# their first, and on a slow machine that can come before health turns red. Nineteen steps
# give them 38 s to still be under way when the incident is seen.
MANY_STEPS = list(range(5, 100, 5))


def route(name: str) -> tuple[str, str, str]:
    return f"route-{name}", f"{name}-stable", f"{name}-canary"


def prepare(scenario: Scenario, names: tuple[str, ...]) -> Simulator:
    """One route per gate; the simulator follows the first (its gate may have guardrails)."""
    simulator = None
    for name in names:
        obj, stable, canary = route(name)
        scenario.create(sc.http_route(obj, scenario.namespace, stable=stable, canary=canary))
        if simulator is None:
            simulator = scenario.simulator("gatewayAPI", obj=obj, stable=stable, canary=canary)
    assert simulator is not None
    return simulator


def create_gate(scenario: Scenario, name: str, **settings: Any) -> None:
    obj, stable, canary = route(name)
    scenario.create(
        sc.gate(
            name, scenario.namespace, scenario=scenario.label,
            traffic=sc.gateway_traffic(obj, stable, canary), **settings,
        )
    )  # fmt: skip


def canary_weight(scenario: Scenario, name: str) -> int:
    obj, stable, canary = route(name)
    [(_, weight)] = managed_weights(scenario.must_get("HTTPRoute", obj), stable, canary)
    return int(weight)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_hotfix_proceeds_under_red_while_another_gate_stays_frozen(scenario: Scenario) -> None:
    simulator = prepare(scenario, ("fix", "other"))
    create_gate(
        scenario, "fix", steps=[20, 40, 60], interval="2s",
        guardrails=[sc.error_guardrail(scenario.label, window="5s", max_increase=0.03)],
        factors={"changeType": "hotfix", "incident": "INC-4711"},
    )  # fmt: skip
    create_gate(scenario, "other", steps=MANY_STEPS, interval="2s", guardrails=[])
    scenario.wait_gate("other", "other to take a step", lambda s: (s.get("weight") or 0) > 0)
    simulator.set_faults(fleetErrorRatio=FLEET_ERROR_RATIO)

    frozen = scenario.wait_gate(
        "other", "other to freeze", lambda s: s.get("mode") == "freeze", timeout=90
    )
    held = frozen["weight"]
    assert frozen["health"] == "red"
    assert frozen["freeze"]["journeys"] == ["checkout"]
    assert frozen["freeze"]["clear"] == f"canarygate.io/clear-freeze={frozen['freeze']['redSince']}"

    promoted = scenario.wait_phase("fix", "Promoted", timeout=120)
    moves = [h for h in promoted["history"] if h["action"] in ("advance", "promote")]
    under_red = [h for h in moves if h.get("health") == "red"]
    assert under_red, moves  # it moved while customers saw red
    assert {h["mode"] for h in under_red} == {"guarded"}

    # Meanwhile the other gate held its weight, frozen, and never rolled back.
    other = scenario.status("other")
    assert (other["weight"], other["mode"], other["phase"]) == (held, "freeze", "Progressing")
    assert canary_weight(scenario, "other") == held
    assert "rollback" not in [h["action"] for h in other["history"]]
    assert scenario.event_reasons("other").count("Frozen") == 1
    simulator.clear_faults()


def test_no_step_before_the_cooldown_and_a_clearance_ends_a_freeze(scenario: Scenario) -> None:
    simulator = prepare(scenario, ("cool", "cleared"))
    create_gate(
        scenario, "cool", steps=MANY_STEPS, interval="2s", guardrails=[],
        policy={"freezeCooldown": "20s"},
    )  # fmt: skip
    create_gate(scenario, "cleared", steps=MANY_STEPS, interval="2s", guardrails=[])
    for name in ("cool", "cleared"):
        scenario.wait_gate(name, f"{name} to take a step", lambda s: (s.get("weight") or 0) > 0)
    simulator.set_faults(fleetErrorRatio=FLEET_ERROR_RATIO)
    held = {
        name: scenario.wait_gate(
            name, f"{name} to freeze", lambda s: s.get("mode") == "freeze", timeout=90
        )["weight"]
        for name in ("cool", "cleared")
    }
    simulator.clear_faults()

    # Out of red, the gates stay frozen: their cooldown runs, status says until when.
    cooling = scenario.wait_gate(
        "cool", "cool to leave red and cool down",
        lambda s: s.get("health") != "red" and (s.get("freeze") or {}).get("cooldownUntil"),
        timeout=150,
    )  # fmt: skip
    assert cooling["reasonCodes"][0] == "FreezeCooldown"
    assert cooling["message"].startswith("hold: frozen: checkout red since ")
    assert "cooldown until" in cooling["message"]
    assert cooling["mode"] == "freeze"
    until = at(cooling["freeze"]["cooldownUntil"])
    assert until > at(cooling["freeze"]["clearSince"])

    resumed = scenario.wait_gate(
        "cool", "cool to step again after its cooldown",
        lambda s: (s.get("weight") or 0) > held["cool"], timeout=90,
    )  # fmt: skip
    first = next(
        h for h in resumed["history"]
        if h["action"] in ("advance", "promote") and h["weightFrom"] == held["cool"]
    )  # fmt: skip
    assert at(first["time"]) >= until, (first, until)
    assert "freeze" not in resumed

    # The other gate's cooldown is 10 minutes: a clearance from the CLI ends it now.
    waiting = scenario.wait_gate(
        "cleared", "cleared to cool down",
        lambda s: (s.get("reasonCodes") or [None])[0] == "FreezeCooldown", timeout=60,
    )  # fmt: skip
    assert canary_weight(scenario, "cleared") == held["cleared"]
    cleared = subprocess.run(
        [sys.executable, "-m", "canarygate", "clear-freeze", f"{scenario.namespace}/cleared",
         "--reason", "triage done", f"--kubeconfig={scenario.cluster.kubeconfig}"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert cleared.returncode == 0, cleared.stderr
    red_since = waiting["freeze"]["redSince"]
    assert cleared.stdout.strip() == (
        f"freeze cleared for {scenario.namespace}/cleared (the red episode of {red_since})"
    )
    status = scenario.wait_gate(
        "cleared", "cleared to step again",
        lambda s: (s.get("weight") or 0) > held["cleared"], timeout=60,
    )  # fmt: skip
    clearance = {c["type"]: c for c in status["controls"]}["clear-freeze"]
    assert (clearance["applied"], clearance["reason"], clearance["revision"]) == (
        True, "triage done", red_since,
    )  # fmt: skip
    scenario.wait_event("cleared", "FreezeCleared", timeout=10)
    # Nothing is left to clear: the CLI says so.
    again = subprocess.run(
        [sys.executable, "-m", "canarygate", "clear-freeze", f"{scenario.namespace}/cleared",
         f"--kubeconfig={scenario.cluster.kubeconfig}"],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 2
    assert again.stderr.strip() == (
        "canarygate: no freeze is in progress (status.freeze is empty): nothing to clear"
    )
