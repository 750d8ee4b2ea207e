"""The one scheduler's due queue, and the operator's probes."""

from __future__ import annotations

import asyncio
import math
import time

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from canarygate.operator.records import GateKey, GateRecord
from canarygate.operator.rollouts import Next
from canarygate.operator.runtime import Runtime, RuntimeSettings
from canarygate.operator.scheduling import DueQueue, Slots, grid
from canarygate.operator.serving import make_app, parse_address

from .harness import gate_body


def test_keys_come_out_due_earliest_first_and_rescheduling_replaces() -> None:
    queue: DueQueue[str] = DueQueue()
    queue.schedule("b", 20.0)
    queue.schedule("a", 10.0)
    queue.schedule("c", 30.0)
    queue.schedule("b", 5.0)  # replaces its 20.0
    assert len(queue) == 3
    assert queue.next_due() == 5.0
    assert queue.pop_due(15.0) == [("b", 5.0), ("a", 10.0)]
    assert queue.pop_due(25.0) == []  # b's stale 20.0 entry is skipped, not returned
    queue.discard("c")
    assert queue.pop_due(100.0) == []
    assert len(queue) == 0


def test_pop_due_respects_its_limit() -> None:
    queue: DueQueue[int] = DueQueue()
    for key in range(10):
        queue.schedule(key, float(key))
    assert [k for k, _ in queue.pop_due(100.0, limit=3)] == [0, 1, 2]
    assert len(queue) == 7


async def test_waiting_wakes_when_an_earlier_key_is_scheduled() -> None:
    queue: DueQueue[str] = DueQueue()
    queue.schedule("later", time.monotonic() + 60)
    waiter = asyncio.ensure_future(queue.wait_for_due(time.monotonic(), longest=30))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    queue.schedule("now", time.monotonic())
    await asyncio.wait_for(waiter, timeout=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), (":9", ("0.0.0.0", 9)), ("[::1]:80", ("::1", 80))],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["8080", "host:", "host:99999", "host:http"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        parse_address(text)


async def test_readiness_waits_for_the_first_list_and_liveness_for_the_loop() -> None:
    state = {"ready": False, "last_loop": time.monotonic()}
    app = make_app(
        registry=CollectorRegistry(),
        ready=lambda: bool(state["ready"]),
        last_loop=lambda: float(state["last_loop"]),
        stuck_after=60,
    )
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/readyz")).status == 503
        assert (await client.get("/healthz")).status == 200
        state["ready"] = True
        assert (await client.get("/readyz")).status == 200
        state["last_loop"] = time.monotonic() - 120
        assert (await client.get("/healthz")).status == 503
        assert (await client.get("/metrics")).status == 200


async def test_a_gate_that_outlasted_its_interval_comes_round_once_and_is_counted() -> None:
    """Due one interval after it was last due, but never in the past: a gate whose transition
    took three intervals is evaluated at once, not three times in a row to catch up."""
    runtime = Runtime(rollouts_store=None)
    body = gate_body()
    body["metadata"].update(uid="u1", generation=1, resourceVersion="1")
    runtime.remember(body)
    (key,) = runtime.records
    record = runtime.records[key]
    now = time.monotonic()
    record.last_due = now - 3 * record.interval_seconds
    runtime.queue.discard(key)
    runtime._finished(key, Next())
    due = runtime.queue.due_at(key)
    assert due is not None
    assert now <= due <= time.monotonic() + 5  # on the next slot of the grid
    assert runtime.observer.overruns._value.get() == 1

    record.last_due = time.monotonic()  # on time: one interval later, not counted
    runtime.queue.discard(key)
    runtime._finished(key, Next())
    later = runtime.queue.due_at(key)
    assert later is not None
    assert later >= record.last_due + record.interval_seconds
    assert runtime.observer.overruns._value.get() == 1
    await runtime.pool.aclose()


async def test_the_echo_of_a_known_version_rebuilds_nothing() -> None:
    """The watch event of the operator's own write carries the version it already took in
    from the write's answer: the record stays as it is; a newer version replaces it."""
    runtime = Runtime(rollouts_store=None)
    body = gate_body()
    body["metadata"].update(uid="u1", generation=1, resourceVersion="7")
    runtime.remember(body)
    (key,) = runtime.records
    first = runtime.records[key]
    runtime.remember(body)
    assert runtime.records[key] is first
    body["metadata"]["resourceVersion"] = "6"  # late: older than what is known
    runtime.remember(body)
    assert runtime.records[key] is first
    body["metadata"]["resourceVersion"] = "8"
    body["status"] = {"phase": "Progressing", "weight": 10}
    runtime.remember(body)
    assert runtime.records[key] is not first
    assert runtime.records[key].state.weight == 10
    await runtime.pool.aclose()


async def test_no_more_gates_in_work_than_allowed_and_the_rest_wait_their_turn() -> None:
    """Thousands of gates due at once (a start, a restart) are taken in bounded waves: the
    memory of a tick does not grow with the number of gates."""
    runtime = Runtime(rollouts_store=None, settings=RuntimeSettings(max_in_flight=4))
    for index in range(10):
        body = gate_body()
        body["metadata"].update(
            name=f"gate-{index}", uid=f"u{index}", generation=1, resourceVersion="1"
        )
        runtime.remember(body)
    release = asyncio.Event()
    in_work: list[int] = []
    done: list[GateKey] = []

    async def process(record: GateRecord, decision: object) -> Next:
        in_work.append(len(runtime._busy))
        await release.wait()
        done.append(record.key)
        return Next(after=3600)

    runtime.rollouts.process = process  # type: ignore[method-assign]
    loop = asyncio.create_task(runtime.run())
    await asyncio.sleep(0.5)
    assert len(runtime._busy) == 4
    assert len(runtime.queue) == 6  # still due, waiting for room
    release.set()
    for _ in range(100):
        if len(done) == 10:
            break
        await asyncio.sleep(0.05)
    assert sorted(str(k) for k in done) == sorted(str(k) for k in runtime.records)
    assert max(in_work) <= 4
    await runtime.stop()
    loop.cancel()


@pytest.mark.parametrize(
    ("interval", "length", "slots"),
    [(30.0, 3.0, 10), (120.0, 5.0, 24), (1.0, 0.25, 4), (0.1, 0.1, 1), (77.0, 77 / 15, 15)],
)
def test_the_grid_makes_an_interval_of_whole_slots(
    interval: float, length: float, slots: int
) -> None:
    assert grid(interval) == pytest.approx((length, slots))


def test_a_few_hundred_gates_share_one_slot() -> None:
    slots = Slots(floor=250)
    placed = {slots.place(61.0, 30.0, gates=200) for _ in range(200)}
    assert placed == {63.0}  # the next slot of the 3 s grid, for all of them


def test_thousands_of_gates_due_together_spread_within_one_interval() -> None:
    slots = Slots(floor=250)
    placed = [slots.place(61.0, 30.0, gates=10_000) for _ in range(10_000)]
    assert min(placed) == 63.0
    assert max(placed) < 61.0 + 30.0  # never more than an interval after it was due
    per_slot = {at: placed.count(at) for at in set(placed)}
    assert len(per_slot) == 10
    assert max(per_slot.values()) == 1100  # an even share, 1,000, and a tenth more


def test_spread_gates_stay_on_their_slot_one_interval_later() -> None:
    slots = Slots(floor=250)
    first = [slots.place(61.0, 30.0, gates=10_000) for _ in range(10_000)]
    slots.forget_before(100.0)
    again = [slots.place(at + 30.0, 30.0, gates=10_000) for at in first]
    assert again == [at + 30.0 for at in first]


def test_loads_of_passed_slots_are_forgotten() -> None:
    slots = Slots(floor=1)
    assert slots.place(0.5, 30.0, gates=1) == 3.0
    assert slots.load(3.0, 30.0) == 1
    slots.forget_before(7.0)
    assert slots.load(3.0, 30.0) == 0
    assert slots.place(3.0, 30.0, gates=1) == 3.0  # room again: the old load is gone


async def test_the_runtime_spreads_gates_once_a_slot_is_full() -> None:
    """Three gates last due together, a slot holding two: the third goes to the next slot,
    not further, and not before its interval."""
    runtime = Runtime(rollouts_store=None, settings=RuntimeSettings(shared_slot_gates=2))
    for name in ("a", "b", "c"):
        body = gate_body()
        body["metadata"].update(name=name, uid=name, generation=1, resourceVersion="1")
        runtime.remember(body)
    now = time.monotonic()
    for key, record in runtime.records.items():
        record.last_due = now
        runtime.queue.discard(key)
        runtime._finished(key, Next())
    dues = sorted(d for k in runtime.records if (d := runtime.queue.due_at(k)) is not None)
    interval = next(iter(runtime.records.values())).interval_seconds
    length, _ = grid(interval)
    assert len(dues) == 3
    assert dues[0] == dues[1] >= now + interval
    assert dues[2] == pytest.approx(dues[0] + length)
    await runtime.pool.aclose()


async def test_a_poked_gate_comes_round_at_once_and_takes_no_room_in_a_slot() -> None:
    """An approval or a control that arrived while the gate was busy brings it back at once;
    the slot it would have gone to keeps its room for the gates that do go there."""
    runtime = Runtime(rollouts_store=None, settings=RuntimeSettings(shared_slot_gates=1))
    for name in ("poked", "next"):
        body = gate_body()
        body["metadata"].update(name=name, uid=name, generation=1, resourceVersion="1")
        runtime.remember(body)
    poked, following = list(runtime.records)
    now = time.monotonic()
    for key in (poked, following):
        runtime.records[key].last_due = now
        runtime.queue.discard(key)
    runtime.records[poked].poked = True
    runtime._finished(poked, Next())
    runtime._finished(following, Next())
    assert runtime.records[poked].poked is False
    assert (runtime.queue.due_at(poked) or 0) <= time.monotonic()
    due = runtime.queue.due_at(following)
    interval = runtime.records[following].interval_seconds
    assert due is not None
    assert due == pytest.approx(min_slot_at_or_after(now + interval, interval))
    assert runtime.slots.load(due, interval) == 1
    await runtime.pool.aclose()


def min_slot_at_or_after(at: float, interval: float) -> float:
    length, _ = grid(interval)
    return math.ceil(at / length - 1e-9) * length
