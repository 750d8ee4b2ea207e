"""Proof of exposure on a live rollout: a canary whose pods serve far less traffic than its
route's weight is held, not promoted.

The simulator's `canaryServedRatio` fault makes the canary serve only part of what the route
sends it (the rest is served by stable, as when canary pods are not ready or clients are pinned
away): at a route weight of 20 % and a ratio of 0.2 the canary serves 4 % of requests. Its
guardrail passes (few requests, no errors): only the exposure rule stands between that canary
and a promotion. The gates measure exposure over a literal 10-second window (`{{window}}`,
`exposure.window: 10s`): Prometheus scrapes every second, the gates evaluate every 2 s.
"""

from __future__ import annotations

from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import Scenario, history_steps, managed_weights

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240), pytest.mark.usefixtures("own_crd")]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


def prepare(scenario: Scenario) -> Simulator:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    return scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def exposure(scenario: Scenario) -> dict[str, Any]:
    every = f'scenario="{scenario.label}"'
    return {
        "canary": f'sum(increase(http_requests_total{{{every},version="canary"}}[{{{{window}}}}]))',
        "total": f"sum(increase(http_requests_total{{{every}}}[{{{{window}}}}]))",
        "window": "10s",
    }


def create_gate(scenario: Scenario) -> None:
    gate = sc.gate(
        "web",
        scenario.namespace,
        scenario=scenario.label,
        traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
        steps=[20, 60],
        interval="2s",
        # A handful of canary requests is enough for the guardrail: it passes, so the exposure
        # rule alone decides.
        guardrails=[sc.error_guardrail(scenario.label, min_samples=5)],
    )
    gate["spec"]["canary"]["exposure"] = exposure(scenario)
    created = scenario.create(gate)
    # The local control plane is shared: a CRD without this field, applied meanwhile by
    # another test session, would prune it and make this test meaningless. Say so.
    assert "exposure" in created["spec"]["canary"], "the CRD in the cluster has no exposure"


def still_exposed(scenario: Scenario) -> None:
    """The gate still has its exposure. Another session's CRD, applied to the shared control
    plane meanwhile, hides the field from reads until the CRD guard (own_crd) serves it again,
    within a second or so: wait for that rather than read once."""

    def served() -> bool:
        spec = (scenario.gate("web") or {}).get("spec") or {}
        return "exposure" in spec.get("canary", {})

    wait_until(
        "spec.canary.exposure to be served (another CRD was applied to the shared control plane)",
        served,
        timeout=30,
        interval=0.2,
    )


def holds(scenario: Scenario) -> float:
    return scenario.stage.operator_metric("canarygate_decisions_total", action="hold")


def held_at_20(scenario: Scenario, code: str) -> bool:
    status = scenario.status("web")
    route = managed_weights(scenario.must_get("HTTPRoute", ROUTE), STABLE, CANARY)
    return (
        route == [(80, 20)]
        and status.get("weight") == 20
        and status.get("phase") == "Progressing"
        and (status.get("reasonCodes") or [None])[0] == code
    )


def test_a_canary_serving_far_less_than_its_weight_is_held_until_it_serves_it(
    scenario: Scenario,
) -> None:
    simulator = prepare(scenario)
    simulator.set_faults(canaryServedRatio=0.2)
    create_gate(scenario)

    held = scenario.wait_gate(
        "web",
        "the gate to hold at 20 % on a mismatch of exposure",
        lambda s: (
            s.get("weight") == 20
            and (s.get("exposure") or {}).get("state") == "mismatch"
            and (s.get("reasonCodes") or [None])[0] == "Exposure"
        ),
        timeout=90,
    )
    assert held["message"].startswith("hold: route 20%, canary served ")
    assert "over 10s (outside 10.0% to 30.0%, tolerance ±50%)" in held["message"]
    assert held["message"].endswith("neither counts as a pass nor promotes")
    served = held["exposure"]["served"]
    assert 0.02 < served < 0.07, served  # about 4 %: a fifth of the route's 20 %
    assert held["exposure"]["routeWeight"] == 20
    # Its guardrail saw no errors: without the exposure rule this canary would move on.
    assert [g["verdict"] for g in held["guardrails"]] == ["pass"]
    assert held["consecutivePasses"] == 0

    seen = holds(scenario)
    scenario.steady(
        "the under-served canary held at 20 %",
        lambda: held_at_20(scenario, "Exposure"),
        until=lambda: holds(scenario) >= seen + 5,
        timeout=60,
    )

    still_exposed(scenario)
    simulator.clear_faults()
    promoted = scenario.wait_phase("web", "Promoted", timeout=120)
    assert history_steps(promoted) == [
        ("hold", 0, 0),
        ("advance", 0, 20),
        ("advance", 20, 60),
        ("promote", 60, 100),
    ]
    assert promoted["exposure"]["state"] == "proven"


def test_a_canary_whose_telemetry_falls_silent_is_held_as_silence(scenario: Scenario) -> None:
    simulator = prepare(scenario)
    route = scenario.watch("HTTPRoute", ROUTE)
    # The moment the canary takes its first step its pods stop serving anything.
    silenced = route.when(
        "the canary's first step",
        lambda body: managed_weights(body, STABLE, CANARY) == [(80, 20)],
        lambda _: simulator.set_faults(canaryServedRatio=0.0),
    )
    create_gate(scenario)
    assert silenced.wait(60), "the canary never took its first step"

    held = scenario.wait_gate(
        "web",
        "the gate to hold at 20 % on silent canary telemetry",
        lambda s: (
            (s.get("exposure") or {}).get("state") == "silent"
            and (s.get("reasonCodes") or [None])[0] == "ExposureSilent"
        ),
        timeout=90,
    )
    assert held["weight"] == 20
    assert "(silence, not health)" in held["message"]
    seen = holds(scenario)
    scenario.steady(
        "the silent canary held at 20 %, neither promoted nor rolled back",
        lambda: held_at_20(scenario, "ExposureSilent"),
        until=lambda: holds(scenario) >= seen + 5,
        timeout=60,
    )
    assert "RolledBack" not in scenario.event_reasons("web")
    still_exposed(scenario)
