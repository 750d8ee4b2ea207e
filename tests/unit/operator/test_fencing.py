"""Fencing: a replica that does not hold the Lease writes nothing, and one that takes over
looks at every gate at once."""

from __future__ import annotations

import time

import pytest

from canarygate.core.errors import NotLeader
from canarygate.kube import GateRef
from canarygate.operator.fencing import FencedStore
from canarygate.operator.records import GateKey
from canarygate.operator.rollouts import Rollouts
from canarygate.operator.runtime import Runtime

from .fake_cluster import FakeCluster
from .harness import NS, ROUTE, Harness, gate_body, route_body


class Lead:
    def __init__(self) -> None:
        self.leading = True

    def __call__(self) -> bool:
        return self.leading


async def test_a_replica_without_the_lease_refuses_every_write_before_sending_it() -> None:
    fake = FakeCluster()
    fake.add_gate(gate_body())
    fake.add_object(ROUTE, route_body())
    lead = Lead()
    lead.leading = False
    store = FencedStore(fake, lead)  # type: ignore[arg-type]
    gate = await store.get_gate(NS, "checkout")  # reads pass
    assert await store.read_objects([ROUTE])
    version = gate["metadata"]["resourceVersion"]
    with pytest.raises(NotLeader):
        await store.patch_gate_status(NS, "checkout", {"phase": "X"}, resource_version=version)
    with pytest.raises(NotLeader):
        await store.set_gate_finalizers(NS, "checkout", ["x"], resource_version=version)
    with pytest.raises(NotLeader):
        await store.replace_object(ROUTE, fake.objects[ROUTE])
    await store.emit_event(GateRef.from_body(gate), type="Normal", reason="R", message="m")
    assert fake.writes == []
    assert fake.events == []


async def test_a_rollout_step_of_a_replica_that_lost_the_lease_stops_at_the_fence() -> None:
    """The Lease is lost between the intent and the route write: the intent stays recorded,
    the route unmoved, and the replica that takes over completes the step (exactly once)."""
    fake = FakeCluster()
    fake.add_gate(gate_body())
    fake.add_object(ROUTE, route_body())
    lead = Lead()
    harness = Harness(fake)
    harness.rollouts = Rollouts(FencedStore(fake, lead), harness.remember, harness.settings,  # type: ignore[arg-type]
                                clock=lambda: harness.now)  # fmt: skip
    await harness.run_until(lambda s: s.get("phase") == "Pending")
    original = fake.patch_gate_status

    async def patch_then_lose(*args: object, **kwargs: object) -> dict[str, object]:
        written = await original(*args, **kwargs)  # type: ignore[arg-type]
        if (written.get("status") or {}).get("intent"):  # type: ignore[union-attr]
            lead.leading = False  # the Lease lapses right after the intent is recorded
        return written  # type: ignore[return-value]

    fake.patch_gate_status = patch_then_lose  # type: ignore[method-assign]
    outcome, _ = await harness.process()
    assert fake.status(NS, "checkout")["intent"]["toWeight"] == 10
    assert fake.objects[ROUTE]["spec"]["rules"][0]["backendRefs"][1]["weight"] == 0
    assert outcome.after is not None
    assert not outcome.failed
    writes = list(fake.writes)
    await harness.process()  # still not leading: nothing at all
    assert fake.writes == writes

    fake.patch_gate_status = original  # type: ignore[method-assign]
    harness.restart()  # the other replica, with the Lease
    harness.rollouts = Rollouts(fake, harness.remember, harness.settings, clock=lambda: harness.now)
    await harness.run_until(lambda s: s.get("weight") == 10 and not s.get("intent"))
    history = [h for h in fake.status(NS, "checkout")["history"] if h["action"] != "hold"]
    assert [(h["action"], h["weightFrom"], h["weightTo"]) for h in history] == [("advance", 0, 10)]
    assert fake.writes.count("replace_object") == 1  # the route moved once, by the new leader


async def test_a_replica_taking_over_schedules_every_gate_at_once() -> None:
    runtime = Runtime(FakeCluster())
    runtime.set_active(False)
    for name in ("a", "b"):
        body = gate_body()
        body["metadata"].update(name=name, uid=name, resourceVersion="1", generation=1)
        runtime.remember(body)
    later = time.monotonic() + 3600
    for name in ("a", "b"):
        runtime.queue.schedule(GateKey(NS, name), later)  # e.g. backed off while standby
    runtime.set_active(True)
    assert runtime.active
    now = time.monotonic()
    assert all(runtime.queue.due_at(GateKey(NS, name)) <= now for name in ("a", "b"))  # type: ignore[operator]
    await runtime.pool.aclose()
