"""Leader election on a Lease: who leads, when a standby may take over, and that a holder
always stops acting before anybody else may start (each replica on its own clock)."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
from collections.abc import Mapping
from typing import Any

import httpx2
import pytest

from canarygate.kube import Conflict, KubeUnavailable, NotFound
from canarygate.kube.leasing import LeaderElector, LeaseRef, LeaseSettings

from .support import make_api

NS = "canarygate"
SETTINGS = {"namespace": NS, "name": "canarygate", "duration": 15.0, "renew_deadline": 10.0}


class Clock:
    """A replica's own clocks: monotonic seconds and wall seconds, moved by the test."""

    def __init__(self, start: float = 1000.0, wall: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_now = wall

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_now

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.wall_now += seconds


class FakeLeases:
    """The API server's side of one Lease: resourceVersions, conflicts, failures."""

    def __init__(self) -> None:
        self.lease: dict[str, Any] | None = None
        self.versions = itertools.count(1)
        self.writes: list[str] = []  # holderIdentity of every write, in order
        self.failing = False
        self.during_write: Any = None  # called while a write is in flight (a slow answer)

    async def read_objects(self, refs: Any) -> dict[Any, dict[str, Any]]:
        if self.failing:
            raise KubeUnavailable("connection failed", verb="get", target="lease")
        return {ref: copy.deepcopy(self.lease) for ref in refs if self.lease is not None}

    async def create_object(self, ref: LeaseRef, body: Mapping[str, Any]) -> dict[str, Any]:
        if self.failing:
            raise KubeUnavailable("connection failed", verb="create", target="lease")
        if self.lease is not None:
            raise Conflict("exists")
        return self._store(body)

    async def replace_object(self, ref: LeaseRef, body: Mapping[str, Any]) -> dict[str, Any]:
        if self.failing:
            raise KubeUnavailable("connection failed", verb="update", target="lease")
        if self.lease is None:
            raise NotFound("gone")
        if body["metadata"]["resourceVersion"] != self.lease["metadata"]["resourceVersion"]:
            raise Conflict("resourceVersion changed")
        if self.during_write is not None:
            self.during_write()
        return self._store(body)

    def _store(self, body: Mapping[str, Any]) -> dict[str, Any]:
        stored = copy.deepcopy(dict(body))
        stored.setdefault("metadata", {})["resourceVersion"] = str(next(self.versions))
        self.lease = stored
        self.writes.append(stored["spec"]["holderIdentity"])
        return copy.deepcopy(stored)

    @property
    def holder(self) -> str:
        assert self.lease is not None
        return str(self.lease["spec"]["holderIdentity"])


def elector(leases: FakeLeases, identity: str, clock: Clock, **timing: float) -> LeaderElector:
    settings = LeaseSettings(identity=identity, **{**SETTINGS, **timing})  # type: ignore[arg-type]
    return LeaderElector(leases, settings, monotonic=clock.monotonic, wall=clock.wall)


async def test_the_first_replica_creates_the_lease_and_leads_the_other_waits() -> None:
    leases, a_clock, b_clock = FakeLeases(), Clock(), Clock(start=5.0)
    a, b = elector(leases, "a", a_clock), elector(leases, "b", b_clock)
    await a.attempt()
    await b.attempt()
    assert a.is_leader
    assert not b.is_leader
    assert leases.holder == "a"
    assert leases.lease is not None
    assert leases.lease["spec"]["leaseDurationSeconds"] == 15
    assert b.holder == "a"


async def test_a_standby_never_takes_over_while_the_holder_renews() -> None:
    leases, a_clock, b_clock = FakeLeases(), Clock(), Clock(start=5.0)
    a, b = elector(leases, "a", a_clock), elector(leases, "b", b_clock)
    await a.attempt()
    for _ in range(30):  # a minute of renewals every 2 s
        for clock in (a_clock, b_clock):
            clock.advance(2.0)
        await a.attempt()
        await b.attempt()
        assert a.is_leader
        assert not b.is_leader
    assert set(leases.writes) == {"a"}


async def test_a_dead_holder_is_replaced_after_a_whole_duration_on_the_standbys_clock() -> None:
    leases, a_clock, b_clock = FakeLeases(), Clock(), Clock(start=5.0)
    a, b = elector(leases, "a", a_clock), elector(leases, "b", b_clock)
    await a.attempt()
    await b.attempt()  # b sees a's last renewal now: its own clock starts here
    # a dies. b keeps trying; nothing changes for 15 s of b's clock.
    for _ in range(7):
        b_clock.advance(2.0)
        await b.attempt()
        assert not b.is_leader, f"took over after {b_clock.now - 5.0} s"
    b_clock.advance(1.1)  # 15.1 s since b last saw a change
    await b.attempt()
    assert b.is_leader
    assert leases.holder == "b"
    assert leases.lease is not None
    assert leases.lease["spec"]["leaseTransitions"] == 1
    assert b.transitions == 1
    # a's own view: it stopped leading 10 s after its last renewal, before b could start.
    a_clock.advance(10.0)
    assert not a.is_leader


async def test_timestamps_written_by_another_replica_are_never_trusted() -> None:
    """The holder's wall clock is hours behind: its renewTime looks ancient, yet as long as
    the Lease keeps changing the standby does not take over (clock skew does not matter)."""
    leases, a_clock, b_clock = FakeLeases(), Clock(wall=1_700_000_000.0), Clock(start=5.0)
    a, b = elector(leases, "a", a_clock), elector(leases, "b", b_clock)
    await a.attempt()
    for _ in range(20):
        a_clock.advance(2.0)
        b_clock.advance(2.0)
        await a.attempt()
        await b.attempt()
    assert a.is_leader
    assert not b.is_leader


async def test_a_holder_that_cannot_renew_stops_leading_before_anyone_may_take_over() -> None:
    leases, a_clock = FakeLeases(), Clock()
    a = elector(leases, "a", a_clock)
    await a.attempt()
    leases.failing = True  # the API server is unreachable from a
    a_clock.advance(9.9)
    await a.attempt()
    assert a.is_leader
    a_clock.advance(0.2)
    assert not a.is_leader  # 10.1 s since its last renewal: renew_deadline (10 s) < 15 s


async def test_a_slow_renewal_counts_from_when_it_was_sent() -> None:
    """A renewal answered 4 s late: the lead counts from the send, not from the answer, as
    a standby may have seen the new version as soon as the server stored it."""
    leases, a_clock = FakeLeases(), Clock()
    a = elector(leases, "a", a_clock)
    await a.attempt()
    a_clock.advance(2.0)
    leases.during_write = lambda: a_clock.advance(4.0)
    await a.attempt()  # sent at 1002, answered at 1006
    a_clock.advance(5.9)  # 1011.9: 9.9 s after the send
    assert a.is_leader
    a_clock.advance(0.2)
    assert not a.is_leader


async def test_the_longer_duration_of_the_holder_is_respected() -> None:
    leases, a_clock, b_clock = FakeLeases(), Clock(), Clock(start=5.0)
    a = elector(leases, "a", a_clock, duration=30.0, renew_deadline=20.0)
    b = elector(leases, "b", b_clock, duration=6.0, renew_deadline=4.0)
    await a.attempt()
    await b.attempt()
    b_clock.advance(29.0)
    await b.attempt()
    assert not b.is_leader  # a may lead up to 20 s without renewing; 30 s must pass
    b_clock.advance(1.1)
    await b.attempt()
    assert b.is_leader


async def test_two_standbys_racing_for_an_expired_lease_elect_one() -> None:
    leases, clocks = FakeLeases(), [Clock(), Clock(start=5.0), Clock(start=9.0)]
    a, b, c = (elector(leases, name, clock) for name, clock in zip("abc", clocks, strict=True))
    await a.attempt()
    await b.attempt()
    await c.attempt()
    for clock in clocks[1:]:
        clock.advance(16.0)
    # Both read the same expired version; the second write conflicts.
    lease_b, lease_c = await b._read(), await c._read()
    assert lease_b is not None
    assert lease_c is not None
    await b._write(lease_b, take_over=True)
    with pytest.raises(Conflict):
        await c._write(lease_c, take_over=True)
    await c.attempt()
    assert b.is_leader
    assert not c.is_leader
    assert leases.holder == "b"


async def test_a_clean_stop_hands_the_lease_over_at_once() -> None:
    leases, a_clock, b_clock = FakeLeases(), Clock(), Clock(start=5.0)
    a = elector(leases, "a", a_clock, renew_every=0.01)
    b = elector(leases, "b", b_clock)
    changes: list[bool] = []
    led = asyncio.Event()

    def changed(leading: bool) -> None:
        changes.append(leading)
        led.set()

    running = asyncio.create_task(a.run(changed))
    await asyncio.wait_for(led.wait(), timeout=5)
    a.stop()
    await asyncio.wait_for(running, timeout=5)
    assert changes == [True, False]
    assert leases.holder == ""
    assert not a.is_leader
    await b.attempt()  # at once, not a duration later
    assert b.is_leader


async def test_leases_are_created_and_replaced_through_the_coordination_api() -> None:
    stored: dict[str, Any] = {}
    requests: list[tuple[str, str]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append((request.method, request.url.path))
        if request.method == "GET":
            if not stored:
                return httpx2.Response(404, json={"kind": "Status", "code": 404})
            return httpx2.Response(200, json=stored)
        body = json.loads(request.content)
        body["metadata"]["resourceVersion"] = str(len(requests))
        stored.clear()
        stored.update(body)
        return httpx2.Response(201 if request.method == "POST" else 200, json=body)

    api = make_api(handler)
    clock = Clock()
    a = LeaderElector(api, LeaseSettings(identity="a", **SETTINGS), monotonic=clock.monotonic)  # type: ignore[arg-type]
    await a.attempt()
    clock.advance(2.0)
    await a.attempt()
    await api.close()
    path = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
    assert requests == [
        ("GET", f"{path}/canarygate"),
        ("POST", path),
        ("GET", f"{path}/canarygate"),
        ("PUT", f"{path}/canarygate"),
    ]
    assert stored["apiVersion"] == "coordination.k8s.io/v1"
    assert stored["kind"] == "Lease"
    assert stored["spec"]["holderIdentity"] == "a"
    assert a.is_leader


def test_lease_timing_must_leave_the_holder_time_to_stop_first() -> None:
    with pytest.raises(ValueError, match="renew_deadline < duration"):
        LeaseSettings(namespace=NS, duration=10.0, renew_deadline=10.0)


async def test_a_lease_that_cannot_be_created_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leases, clock = FakeLeases(), Clock()

    async def no_namespace(ref: LeaseRef, body: Mapping[str, Any]) -> dict[str, Any]:
        raise NotFound("namespaces canarygate not found")

    leases.create_object = no_namespace  # type: ignore[method-assign]
    a = elector(leases, "a", clock)
    await a.attempt()
    assert not a.is_leader
    assert "does the namespace exist?" in caplog.text
