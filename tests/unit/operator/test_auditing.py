"""Spec edits during a rollout, against the in-memory API server: recorded in the history with
the generation and the fields changed, an Event, and a looser rule restarting the count of
passes (so an edit never lets a step through on passes earned before it)."""

from __future__ import annotations

from typing import Any

from canarygate.operator.auditing import record_edit

from .fake_cluster import FakeCluster
from .harness import NS, ROUTE, Harness, gate_body, route_body

GATE = (NS, "checkout")


def guarded_cluster() -> FakeCluster:
    """A high-risk gate: every step needs two consecutive passing evaluations."""
    fake = FakeCluster()
    body = gate_body()
    body["spec"]["risk"] = {"level": "high"}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    return fake


def edit(fake: FakeCluster, change: Any) -> None:
    """What `kubectl edit` does: the spec changes and the generation moves on."""
    gate = fake.gates[GATE]
    change(gate["spec"])
    gate["metadata"]["generation"] += 1
    gate["metadata"]["resourceVersion"] = str(int(gate["metadata"]["resourceVersion"]) + 1000)


def set_max(value: float) -> Any:
    def change(spec: dict[str, Any]) -> None:
        spec["canary"]["guardrails"][0]["max"] = value

    return change


async def one_pass_at_10(harness: Harness, fake: FakeCluster) -> None:
    await harness.run_until(lambda s: s.get("weight") == 10 and s.get("consecutivePasses") == 1)


def edits(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in status.get("history") or [] if "generation" in h]


async def test_a_looser_guardrail_mid_rollout_is_recorded_and_restarts_the_passes() -> None:
    fake = guarded_cluster()
    harness = Harness(fake)
    await one_pass_at_10(harness, fake)
    assert fake.status(*GATE)["specAudit"]["generation"] == 1  # taken when the rollout started

    edit(fake, set_max(0.05))
    writes = len(fake.writes)
    _, decision = await harness.process()
    status = fake.status(*GATE)
    # The decision of that visit was made with the count already restarted: no step, and this
    # evaluation's pass is the first again.
    assert decision is not None
    assert decision.state.consecutive_passes == 1
    assert status["weight"] == 10
    assert status["consecutivePasses"] == 1
    assert fake.writes[writes:] == ["patch_gate_status", "patch_gate_status"]  # edit, then hold
    (entry,) = edits(status)
    assert entry["generation"] == 2
    assert entry["changes"] == ["spec.canary.guardrails[error-rate].max: 0.01 -> 0.05 (looser)"]
    assert entry["weightFrom"] == entry["weightTo"] == 10
    assert entry["reason"] == (
        "spec edited (generation 1 -> 2): spec.canary.guardrails[error-rate].max: 0.01 -> "
        "0.05 (looser); a looser rule: the count of passes at 10% restarts"
    )
    assert "SpecEdited" in fake.reasons()
    assert status["specAudit"]["generation"] == 2
    assert status["specAudit"]["fields"]["spec.canary.guardrails[error-rate].max"] == "0.05"

    # The second pass under the new rule takes the step.
    await harness.process()
    assert fake.status(*GATE)["weight"] == 50
    assert len(edits(fake.status(*GATE))) == 1  # recorded once


async def test_a_stricter_edit_is_recorded_and_keeps_the_passes() -> None:
    fake = guarded_cluster()
    harness = Harness(fake)
    await one_pass_at_10(harness, fake)
    edit(fake, set_max(0.005))
    await harness.process()
    status = fake.status(*GATE)
    (entry,) = edits(status)
    assert entry["changes"] == ["spec.canary.guardrails[error-rate].max: 0.01 -> 0.005 (stricter)"]
    assert entry["reason"].endswith("no rule loosened: the count of passes is kept")
    assert status["weight"] == 50  # the kept pass and this visit's took the step


async def test_an_edit_made_while_the_operator_was_down_is_recorded_once_on_return() -> None:
    fake = guarded_cluster()
    harness = Harness(fake)
    await one_pass_at_10(harness, fake)
    harness.restart()

    def edit_objective(spec: dict[str, Any]) -> None:
        spec["journeys"][0]["objective"] = 99.0
        spec["canary"]["interval"] = "2m"

    edit(fake, edit_objective)
    await harness.process()
    harness.restart()
    await harness.process()
    await harness.process()
    (entry,) = edits(fake.status(*GATE))
    assert entry["changes"] == [
        "spec.canary.interval: 1m -> 2m (recorded)",
        "spec.journeys[checkout].objective: 99.9 -> 99.0 (looser)",
    ]


async def test_a_gate_whose_status_has_no_audit_yet_takes_its_fields_silently() -> None:
    fake = guarded_cluster()
    harness = Harness(fake)
    await one_pass_at_10(harness, fake)
    del fake.gates[GATE]["status"]["specAudit"]  # as an older operator left it
    await harness.process()
    status = fake.status(*GATE)
    assert status["specAudit"]["generation"] == 1
    assert edits(status) == []
    assert "SpecEdited" not in fake.reasons()
    assert status["weight"] == 50  # nothing was loosened: the kept pass counted


async def test_a_status_that_cannot_keep_the_audit_is_not_written_for_it_every_tick() -> None:
    """A CRD older than the operator prunes status.specAudit: the gate still progresses, and
    the audit is not attempted again on every tick."""
    fake = guarded_cluster()
    harness = Harness(fake)
    await one_pass_at_10(harness, fake)
    original = fake.patch_gate_status

    async def pruning(namespace: str, name: str, status: Any, *, resource_version: str) -> Any:
        written = await original(namespace, name, status, resource_version=resource_version)
        fake.gates[GATE]["status"].pop("specAudit", None)
        written["status"].pop("specAudit", None)
        return written

    fake.patch_gate_status = pruning  # type: ignore[method-assign]
    del fake.gates[GATE]["status"]["specAudit"]
    record = harness.record()
    assert record.audit_due
    await record_edit(harness.rollouts.context, record)
    assert not record.audit_due  # noted: not again on the next tick
    assert "specAudit" not in fake.status(*GATE)
    await harness.process()  # the gate still decides and moves
    assert fake.status(*GATE)["weight"] == 50
