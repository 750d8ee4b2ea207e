"""Checks that block a step, live:

- a webhook check (a release desk on loopback) answering 409 holds the first step and says why
  (status code, the desk's message, latency); answering 200 lets each step go, asked about each
  step (20, 60, then 100 for the promotion) with the gate and the revision; a desk too slow to
  answer within the check's timeout holds the gate and never rolls it back;
- the simulator's blackbox probe of the canary (probe_success): a beforeFirstStep check holds
  the canary at 0 % while the probe fails; a critical everyInterval check rolls the canary back
  after failureLimit failing evaluations.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lab import scenarios as sc
from lab.stage import Simulator
from tests.e2e.helpers import wait_until
from tests.e2e.operator_fixtures import Scenario, history_steps, managed_weights
from tests.e2e.webhooks import Webhook

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("own_crd")]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"


@pytest.fixture
def desk() -> Iterator[Webhook]:
    hook = Webhook("release-desk", status=409, message='{"message": "change freeze until 18:00"}')
    try:
        yield hook
    finally:
        hook.close()


def prepare(scenario: Scenario) -> Simulator:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    return scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def create_gate(scenario: Scenario, **settings: Any) -> None:
    scenario.create(
        sc.gate(
            "web", scenario.namespace, scenario=scenario.label,
            traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY), **settings,
        )
    )  # fmt: skip


def check(status: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in status.get("checks") or [] if c["name"] == name)


def weights(scenario: Scenario) -> list[tuple[int, int]]:
    return managed_weights(scenario.must_get("HTTPRoute", ROUTE), STABLE, CANARY)


def test_a_webhook_check_holds_each_step_until_it_answers_2xx(
    scenario: Scenario, desk: Webhook
) -> None:
    prepare(scenario)
    create_gate(
        scenario, steps=[20, 60], interval="2s",
        checks=[sc.webhook_check(f"{desk.address}/may-it-go")],
    )  # fmt: skip
    held = scenario.wait_gate(
        "web", "the desk's refusal to hold the first step",
        lambda s: (s.get("reasonCodes") or [None])[0] == "CheckFailed",
    )  # fmt: skip
    assert held["weight"] == 0
    assert held["message"] == (
        "hold: check release-desk failed: answered 409 (change freeze until 18:00); the step to "
        "20% waits"
    )
    found = check(held, "release-desk")
    assert (found["kind"], found["verdict"], found["statusCode"], found["step"]) == (
        "webhook", "fail", 409, 20,
    )  # fmt: skip
    assert found["latencySeconds"] is not None
    assert found["latencySeconds"] < 2
    [first, *_] = desk.deliveries()
    assert first.path == "/may-it-go"
    assert first.body == {
        "schema": "canarygate.io/check/v1",
        "check": "release-desk",
        "gate": {"namespace": scenario.namespace, "name": "web"},
        "revision": "v1",
        "step": 20,
        "weight": 0,
    }
    assert weights(scenario) == [(100, 0)]

    desk.status, desk.message = 200, None
    scenario.wait_gate("web", "the first step", lambda s: s.get("weight") == 20)
    # Too slow for the check's 2 s timeout: no answer is no pass, and never a rollback.
    desk.delay = 3.0
    slow = scenario.wait_gate(
        "web", "a timeout to hold the gate",
        lambda s: (s.get("reasonCodes") or [None])[0] == "CheckError", timeout=60,
    )  # fmt: skip
    assert "no answer within 2s (timeout)" in slow["message"]
    assert (slow["weight"], slow["phase"]) == (20, "Progressing")
    desk.delay = 0.0
    done = scenario.wait_phase("web", "Promoted", timeout=60)
    assert [s for s in history_steps(done) if s[0] != "hold"] == [
        ("advance", 0, 20), ("advance", 20, 60), ("promote", 60, 100),
    ]  # fmt: skip
    asked = [d.body["step"] for d in desk.deliveries()]
    assert sorted(set(asked)) == [20, 60, 100]
    assert all(d.body["revision"] == "v1" for d in desk.deliveries())


def test_a_failing_probe_holds_the_first_step_and_a_critical_one_rolls_back(
    scenario: Scenario,
) -> None:
    simulator = prepare(scenario)
    simulator.set_faults(probeFails=True)
    probe = sc.probe_check(scenario.label, name="first-probe", when="beforeFirstStep")
    query = probe["prometheus"]["query"]
    wait_until(  # the gate's first evaluation must already see the failing probe
        "Prometheus to see the failing probe",
        lambda: scenario.stage.prometheus.query(query) == 0.0,
        timeout=30,
        interval=0.25,
    )
    watchdog = sc.probe_check(
        scenario.label, name="journey-probe", when="everyInterval", severity="critical",
        failureLimit=2,
    )  # fmt: skip
    # Steps enough that the watchdog below fails twice before the gate could promote.
    create_gate(scenario, steps=[20, 30, 40, 50, 60, 70, 80], interval="2s", checks=[probe])
    held = scenario.wait_gate(
        "web", "the failing probe to hold the canary at 0 %",
        lambda s: (s.get("reasonCodes") or [None])[0] == "CheckFailed",
    )  # fmt: skip
    assert held["weight"] == 0
    found = check(held, "first-probe")
    assert (found["kind"], found["verdict"], found["value"]) == ("prometheus", "fail", 0.0)
    assert held["message"] == (
        "hold: check first-probe failed: value 0, needs >= 1; the step to 20% waits"
    )
    simulator.clear_faults()
    scenario.wait_gate("web", "the first step once the probe passes", lambda s: s["weight"] >= 20)

    # A critical probe checked at every evaluation: failing twice in a row rolls back.
    scenario.patch("CanaryGate", "web", {"spec": {"canary": {"checks": [probe, watchdog]}}})
    scenario.wait_gate(
        "web", "the watchdog to pass once",
        lambda s: any(c["name"] == "journey-probe" and c["verdict"] == "pass"
                      for c in s.get("checks") or []),
    )  # fmt: skip
    simulator.set_faults(probeFails=True)
    rolled = scenario.wait_phase("web", "RolledBack", timeout=60)
    assert rolled["message"] == (
        "rollback: critical check journey-probe failed 2 consecutive time(s) (failureLimit 2): "
        "value 0, needs >= 1"
    )
    found = check(rolled, "journey-probe")
    assert (found["verdict"], found["consecutiveFailures"]) == ("fail", 2)
    assert weights(scenario) == [(100, 0)]
    assert (
        scenario.stage.operator_metric(
            "canarygate_rollbacks_total", namespace=scenario.namespace, trigger="decision"
        )
        == 1
    )
