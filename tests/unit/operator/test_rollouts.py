"""Rollout transitions against an in-memory API server: the order of writes, exact resume
after a crash at every write, rollback before anything else, status written on change."""

from __future__ import annotations

from typing import Any

import pytest

from canarygate.core import Missing, MissingKind, Role
from canarygate.operator.records import FINALIZER

from .fake_cluster import Crash, FakeCluster, Killed
from .harness import NS, ROUTE, Harness, gate_body, observations, route_body, route_weights


def cluster(revision: str = "v2", stable: int = 100, canary: int = 0) -> FakeCluster:
    fake = FakeCluster()
    fake.add_gate(gate_body(revision))
    fake.add_object(ROUTE, route_body(stable, canary))
    return fake


def phase(status: dict[str, Any]) -> str | None:
    return status.get("phase")


def failing(record: Any) -> Any:
    return observations(record, canary_error_ratio=0.2)


async def test_a_healthy_canary_steps_through_and_is_promoted() -> None:
    fake = cluster()
    harness = Harness(fake)
    visits = await harness.run_until(lambda s: phase(s) == "Promoted")
    status = fake.status(NS, "checkout")
    assert route_weights(fake) == (0, 100)
    assert status["weight"] == 100
    assert [(h["weightFrom"], h["weightTo"]) for h in status["history"]] == [
        (0, 0),  # the rollout starts at 0 %
        (0, 10),
        (10, 50),
        (50, 100),  # the last step
        (100, 100),  # it passed: promoted
    ]
    assert FINALIZER in fake.gates[(NS, "checkout")]["metadata"]["finalizers"]
    assert status["traffic"]["original"]  # what delete restores
    assert "intent" not in status
    assert fake.reasons() == ["RolloutStarted", "Advanced", "Advanced", "Advanced", "Promoted"]
    # Only the weights of the route changed; the GitOps owner's annotation survives.
    assert fake.objects[ROUTE]["metadata"]["annotations"]["owner"] == "gitops"
    assert visits <= 7


@pytest.mark.parametrize(
    "crash",
    [
        Crash("patch_gate_status", call=2, after=True),  # after the intent of 0 -> 10
        Crash("replace_object", call=1, after=True),  # after the route moved to 10
        Crash("patch_gate_status", call=3, after=False),  # before the result of 0 -> 10
        Crash("patch_gate_status", call=3, after=True),  # after the result of 0 -> 10
    ],
    ids=["after-intent", "after-route", "before-result", "after-result"],
)
async def test_killed_at_any_point_of_a_step_the_operator_resumes_exactly(crash: Crash) -> None:
    fake = cluster()
    harness = Harness(fake)
    fake.crash = crash
    with pytest.raises(Killed):
        await harness.run_until_killed()
    harness.restart()
    await harness.run_until(lambda s: s.get("weight") == 10 and "intent" not in s)
    status = fake.status(NS, "checkout")
    steps = [(h["weightFrom"], h["weightTo"]) for h in status["history"]]
    assert steps.count((0, 10)) == 1, steps  # neither repeated nor skipped
    assert route_weights(fake) == (90, 10)
    await harness.run_until(lambda s: phase(s) == "Promoted")
    steps = [(h["weightFrom"], h["weightTo"]) for h in fake.status(NS, "checkout")["history"]]
    assert steps == [(0, 0), (0, 10), (10, 50), (50, 100), (100, 100)]


async def test_a_failing_canary_is_rolled_back_traffic_first() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    fake.writes.clear()
    await harness.run_until(lambda s: phase(s) == "RolledBack", measure=failing)
    assert fake.writes[0] == "replace_object"  # 100 % to stable before any other write
    assert route_weights(fake) == (100, 0)
    assert fake.status(NS, "checkout")["weight"] == 0
    assert fake.reasons()[-1] == "RolledBack"
    # A rolled-back gate stays rolled back: healthy evaluations change nothing.
    for _ in range(3):
        await harness.process()
    assert phase(fake.status(NS, "checkout")) == "RolledBack"
    assert route_weights(fake) == (100, 0)


async def test_a_new_revision_restarts_a_rolled_back_gate() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    await harness.run_until(lambda s: phase(s) == "RolledBack", measure=failing)
    body = fake.gates[(NS, "checkout")]
    body["spec"]["canary"]["revision"] = "v3"
    body["metadata"]["generation"] += 1
    await harness.run_until(lambda s: s.get("revision") == "v3" and phase(s) == "Pending")
    await harness.run_until(lambda s: phase(s) == "Promoted")
    assert route_weights(fake) == (0, 100)


async def test_holding_writes_the_status_only_when_something_changed() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)

    def silent(record: Any) -> Any:
        return {key: value for key, value in observations(record, canary_error_ratio=0.001).items()
                if key.window is None}  # fmt: skip

    await harness.process(silent)  # health turns unknown: a change, written
    writes = len(fake.writes)
    for _ in range(5):
        await harness.process(silent)  # the same hold again: nothing to write
    assert len(fake.writes) == writes
    assert fake.status(NS, "checkout")["health"] == "unknown"
    assert route_weights(fake) == (90, 10)


async def test_deleting_a_gate_restores_the_original_route() -> None:
    fake = cluster(stable=70, canary=30)  # someone's own split before canarygate came
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 50)
    fake.gates[(NS, "checkout")]["metadata"]["deletionTimestamp"] = "2026-11-25T13:00:00Z"
    await harness.process()
    assert (NS, "checkout") not in fake.gates
    assert route_weights(fake) == (70, 30)
    assert fake.reasons()[-1] == "TrafficRestored"


async def test_an_invalid_gate_is_marked_and_never_actuated() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["steps"] = [50, 10]  # the CLI and CRD refuse this; assume it slipped
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    for _ in range(3):
        await harness.process()
    assert phase(fake.status(NS, "checkout")) == "Invalid"
    assert "replace_object" not in fake.writes
    assert fake.reasons() == ["InvalidSpec"]


async def test_a_missing_route_holds_with_a_condition_then_proceeds() -> None:
    fake = FakeCluster()
    fake.add_gate(gate_body())
    harness = Harness(fake)
    next_visit, _ = await harness.process()  # finalizer
    next_visit, _ = await harness.process()
    assert next_visit.failed
    conditions = {c["type"]: c for c in fake.status(NS, "checkout")["conditions"]}
    assert conditions["TrafficReady"]["reason"] == "TargetMissing"
    assert "TrafficError" in fake.reasons()
    fake.add_object(ROUTE, route_body())
    await harness.run_until(lambda s: s.get("weight") == 10)


async def test_routing_changed_by_someone_else_is_reported_not_fought() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    route = fake.objects[ROUTE]
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 100
    route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 0
    await harness.process()
    conditions = {c["type"]: c for c in fake.status(NS, "checkout")["conditions"]}
    assert conditions["TrafficReady"]["reason"] == "WeightMismatch"
    assert route_weights(fake) == (100, 0)  # not set back: canarygate does not fight
    assert "WeightMismatch" in fake.reasons()


async def test_killed_right_after_a_rollback_moved_traffic_the_restart_records_it() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    fake.crash = Crash("replace_object", call=2, after=True)  # the rollback's route write
    with pytest.raises(Killed):
        await harness.process(failing)
    assert route_weights(fake) == (100, 0)
    assert fake.status(NS, "checkout")["phase"] == "Progressing"  # not recorded yet
    harness.restart()
    # Even with the canary healthy again, the stamp on the route tells what happened.
    await harness.run_until(lambda s: phase(s) == "RolledBack")
    status = fake.status(NS, "checkout")
    assert status["weight"] == 0
    assert status["history"][-1]["action"] == "rollback"
    assert route_weights(fake) == (100, 0)


async def test_a_standing_mismatch_is_reported_once_and_clears_when_weights_return() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    refs = fake.objects[ROUTE]["spec"]["rules"][0]["backendRefs"]
    refs[0]["weight"], refs[1]["weight"] = 100, 0  # someone else moved the weights
    await harness.process()
    writes = len(fake.writes)
    for _ in range(4):
        await harness.process()  # still mismatched: no step, no write, no second Event
    assert len(fake.writes) == writes
    assert fake.reasons().count("WeightMismatch") == 1
    assert route_weights(fake) == (100, 0)
    refs = fake.objects[ROUTE]["spec"]["rules"][0]["backendRefs"]
    refs[0]["weight"], refs[1]["weight"] = 90, 10  # put back as canarygate left them
    await harness.run_until(lambda s: s.get("weight") == 50)
    conditions = {c["type"]: c for c in fake.status(NS, "checkout")["conditions"]}
    assert conditions["TrafficReady"]["status"] == "True"


async def test_a_traffic_block_that_cannot_work_makes_the_gate_invalid_up_front() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["traffic"]["gatewayAPI"]["canaryBackend"] = "checkout-stable"
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    await harness.process()
    status = fake.status(NS, "checkout")
    assert phase(status) == "Invalid"
    assert "canaryBackend" in status["message"]
    assert "replace_object" not in fake.writes


async def test_an_unreachable_prometheus_is_announced_once_and_holds() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)

    def unreachable(record: Any) -> Any:
        gone = Missing(MissingKind.UNREACHABLE, "cannot reach http://prometheus:9090")
        return dict.fromkeys(observations(record, canary_error_ratio=0.001), gone)

    for _ in range(3):
        await harness.process(unreachable)
    assert fake.reasons().count("PrometheusUnavailable") == 1
    status = fake.status(NS, "checkout")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["MetricsAvailable"]["reason"] == "PrometheusUnavailable"
    assert status["weight"] == 10
    assert route_weights(fake) == (90, 10)


async def test_a_step_waits_until_the_routing_carries_the_current_weight() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    route = fake.objects[ROUTE]
    route["metadata"]["generation"] = 3  # the Gateway has not taken the new weights yet
    accepted = {"type": "Accepted", "status": "True", "observedGeneration": 2}
    route["status"] = {"parents": [{"parentRef": {"name": "public"}, "conditions": [accepted]}]}
    for _ in range(3):
        await harness.process()
    status = fake.status(NS, "checkout")
    assert status["weight"] == 10
    assert status["reasonCodes"][0] == "WaitingForTraffic"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["TrafficReady"]["status"] == "Unknown"
    assert fake.reasons().count("WaitingForTraffic") == 1
    accepted["observedGeneration"] = 3
    fake.objects[ROUTE]["status"]["parents"][0]["conditions"] = [accepted]
    await harness.run_until(lambda s: s.get("weight") == 50)


async def test_a_promotion_that_needs_approval_waits_for_exactly_that_approval() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["approval"] = {"promotion": True}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 100)  # the last step, not promoted
    for _ in range(3):
        await harness.process()
    status = fake.status(NS, "checkout")
    assert status["phase"] == "WaitingForApproval"
    assert status["approval"]["key"] == "v2/promote"
    assert "canarygate approve shop/checkout" in status["approval"]["how"]
    assert fake.reasons().count("WaitingForApproval") == 1
    since = status["approval"]["waitingSince"]
    annotations = fake.gates[(NS, "checkout")]["metadata"].setdefault("annotations", {})
    annotations["canarygate.io/approve"] = "v1/promote"  # another revision's: not this one
    await harness.process()
    assert fake.status(NS, "checkout")["phase"] == "WaitingForApproval"
    assert fake.status(NS, "checkout")["approval"]["waitingSince"] == since
    annotations["canarygate.io/approve"] = "v1/promote,v2/promote"
    await harness.run_until(lambda s: s.get("phase") == "Promoted")
    assert "approval" not in fake.status(NS, "checkout")


def approving(fake: FakeCluster, *keys: str) -> None:
    annotations = fake.gates[(NS, "checkout")]["metadata"].setdefault("annotations", {})
    annotations["canarygate.io/approve"] = ",".join(keys)


def red(record: Any) -> Any:
    return observations(record, canary_error_ratio=0.001, error_ratio=0.05)


async def test_every_step_waits_for_its_own_approval_and_is_taken_once() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["approval"] = {"steps": "all"}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    assert fake.status(NS, "checkout")["approval"]["key"] == "v2/10"
    assert fake.status(NS, "checkout")["weight"] == 0
    approving(fake, "v2/10")
    await harness.run_until(lambda s: s.get("weight") == 10)
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    assert fake.status(NS, "checkout")["approval"]["key"] == "v2/50"
    approving(fake, "v2/10", "v2/50", "v2/100")  # approved ahead: no wait at 100
    await harness.run_until(lambda s: s.get("weight") == 100)
    status = fake.status(NS, "checkout")
    moves = [(h["weightFrom"], h["weightTo"]) for h in status["history"] if h["action"] != "hold"]
    assert moves == [(0, 10), (10, 50), (50, 100)]
    assert fake.reasons().count("WaitingForApproval") == 2


async def test_a_gate_that_stops_wanting_to_move_no_longer_says_it_waits_for_approval() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["approval"] = {"steps": "all"}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    await harness.run_until(lambda s: s.get("phase") != "WaitingForApproval", measure=red)
    status = fake.status(NS, "checkout")
    assert status["phase"] == "Pending"  # weight 0: it had not started moving
    assert status["health"] == "red"
    assert "approval" not in status
    # Health back: it waits again, for the same step, since a new moment.
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    assert fake.status(NS, "checkout")["approval"]["key"] == "v2/10"


async def test_a_rollback_never_waits_and_clears_the_wait() -> None:
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["canary"]["approval"] = {"steps": "all"}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    approving(fake, "v2/10")
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval" and s["weight"] == 10)
    await harness.run_until(lambda s: s.get("phase") == "RolledBack", measure=failing)
    status = fake.status(NS, "checkout")
    assert "approval" not in status
    assert route_weights(fake) == (100, 0)


async def test_high_risk_steps_wait_only_when_the_release_is_high_risk() -> None:
    for level, waits in (("low", False), ("high", True)):
        fake = FakeCluster()
        body = gate_body()
        body["spec"]["risk"]["level"] = level
        body["spec"]["canary"]["approval"] = {"steps": "high-risk"}
        fake.add_gate(body)
        fake.add_object(ROUTE, route_body())
        harness = Harness(fake)
        await harness.run_until(
            lambda s: s.get("phase") == "WaitingForApproval" or s.get("weight") == 10
        )
        assert (fake.status(NS, "checkout")["phase"] == "WaitingForApproval") is waits, level


def with_conversion(fake: FakeCluster) -> None:
    """Gives the gate a success metric, conversion (higher is better, 1 % margin)."""
    body = fake.gates[(NS, "checkout")]
    body["spec"]["canary"]["successMetrics"] = [
        {"name": "conversion", "canary": "conv_canary", "baseline": "conv_stable",
         "direction": "higher", "samples": "sessions_canary", "minSamples": 1000}
    ]  # fmt: skip


def converting(canary: float) -> Any:
    def measure(record: Any) -> Any:
        found = observations(record, canary_error_ratio=0.001)
        found.update({
            key: {Role.SUCCESS_CANARY: canary, Role.SUCCESS_BASELINE: 0.05,
                  Role.SUCCESS_SAMPLES: 5000.0}.get(key.role, value)
            for key, value in found.items()
        })  # fmt: skip
        return found

    return measure


async def test_a_worse_success_metric_waits_for_the_promotion_approval_without_a_policy() -> None:
    fake = cluster()
    with_conversion(fake)
    harness = Harness(fake)
    worse = converting(0.045)  # lift -10 %
    await harness.run_until(lambda s: s.get("weight") == 100, measure=worse)
    for _ in range(3):
        await harness.process(worse)
    status = fake.status(NS, "checkout")
    assert status["phase"] == "WaitingForApproval"
    assert status["approval"]["key"] == "v2/promote"
    assert (status["approval"]["action"], status["approval"]["toWeight"]) == ("promote", 100)
    assert status["reasonCodes"][:2] == ["ApprovalNeeded", "SuccessMetricHold"]
    assert status["message"].startswith("hold: promote 100% -> 100% waits for approval v2/promote")
    assert "lift -10.0%" in status["reasons"][1]
    assert "a person may approve the promotion" in status["reasons"][1]
    assert fake.reasons().count("WaitingForApproval") == 1
    # The guardrail's telemetry goes silent meanwhile: approved, the gate still holds, for it.
    approving(fake, "v2/promote")

    def silent_guardrail(record: Any) -> Any:
        found = worse(record)
        for key in found:
            if key.role is Role.CANARY:
                found[key] = Missing(MissingKind.NO_DATA, "no series")
        return found

    await harness.process(silent_guardrail)
    status = fake.status(NS, "checkout")
    assert status["phase"] == "Progressing"
    assert status["reasonCodes"][0] == "GuardrailInconclusive"
    assert "approval" not in status
    assert "Promoted" not in fake.reasons()
    await harness.run_until(lambda s: s.get("phase") == "Promoted", measure=worse)
    status = fake.status(NS, "checkout")
    assert "approval" not in status
    assert status["history"][-1]["action"] == "promote"
    assert status["history"][-1]["reason"] == (
        "promote: the last step (100%) passed; success metric(s) conversion worse than the "
        "baseline, and a person approved the promotion"
    )


async def test_a_better_success_metric_promotes_without_an_approval() -> None:
    fake = cluster()
    with_conversion(fake)
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("phase") == "Promoted", measure=converting(0.055))
    assert "WaitingForApproval" not in fake.reasons()
