"""When each gate is next due: one heap for every gate, not a timer per gate.

`DueQueue` maps gate keys to due times (monotonic seconds). Re-scheduling a gate pushes a new
entry and leaves the old one in the heap; popping skips entries that no longer match the
gate's current due time (lazy deletion), so every operation is O(log n) and nothing scans
all gates. `wait_for_due` sleeps until the earliest gate is due or something new arrives.

`Slots` says which slot of a grid shared by the gates of one interval a gate's next
evaluation goes to: the same slot for a few hundred gates, spread evenly for thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class DueQueue(Generic[K]):
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._due: dict[K, float] = {}
        self._order = itertools.count()
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: object) -> bool:
        return key in self._due

    def schedule(self, key: K, due: float) -> None:
        """(Re)schedule `key` at `due`, replacing any earlier schedule of it."""
        if self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._order), key))
        if self._heap[0][2] == key:
            self._changed.set()

    def discard(self, key: K) -> None:
        self._due.pop(key, None)

    def due_at(self, key: K) -> float | None:
        return self._due.get(key)

    def next_due(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float, limit: int | None = None) -> list[tuple[K, float]]:
        """Every key due at or before `now` (at most `limit`) with the time it was due,
        earliest first; they are no longer scheduled."""
        found: list[tuple[K, float]] = []
        while self._heap and (limit is None or len(found) < limit):
            due, _, key = self._heap[0]
            if self._due.get(key) != due:
                heapq.heappop(self._heap)
                continue
            if due > now:
                break
            heapq.heappop(self._heap)
            del self._due[key]
            found.append((key, due))
        return found

    async def wait_for_due(self, now: float, *, longest: float) -> None:
        """Sleep until the earliest key is due, something is scheduled earlier, or `longest`."""
        earliest = self.next_due()
        delay = longest if earliest is None else min(longest, max(0.0, earliest - now))
        if delay <= 0:
            return
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout=delay)

    def _drop_stale(self) -> None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)


# The grid: a slot is a tenth of the interval, between 0.25 s and 5 s, and a whole number of
# slots make one interval, so a gate evaluated on a slot comes round on a slot again.
SLOT_SHORTEST = 0.25
SLOT_LONGEST = 5.0
# A slot takes its even share of the gates and this much more before it counts as full:
# room for the gates that come and go without moving everyone along.
SHARE_SLACK = 1.1


def grid(interval: float) -> tuple[float, int]:
    """(slot length, slots per interval) for gates of this interval."""
    wanted = min(SLOT_LONGEST, max(SLOT_SHORTEST, interval / 10))
    slots = max(1, round(interval / wanted))
    return interval / slots, slots


class Slots:
    """Which slot of the grid a gate's next evaluation goes to.

    Gates of one interval share slots so that they are evaluated together, in few large
    batches (each batch costs Prometheus requests whatever its size). But a slot holding
    thousands of gates makes a tick that outlasts the slot, and then every later slot
    starts late. So a slot takes gates up to `floor`, or up to its even share of all gates
    (with some slack) when that is more; beyond that a gate goes to the next slot with room,
    or the least full, never more than one interval minus a slot after it was due. A few
    hundred gates keep sharing one slot; ten thousand spread evenly over the interval, and
    stay where they landed, since one interval later is the same slot again.

    Loads are counted when a gate is placed and forgotten once the slot has passed; a gate
    placed twice before its slot (rescheduled, deleted) is counted twice, which only spreads
    a little more."""

    def __init__(self, floor: int) -> None:
        self.floor = max(1, floor)
        self._load: dict[tuple[float, int], int] = {}

    def place(self, earliest: float, interval: float, gates: int) -> float:
        """The start of the slot a gate due no earlier than `earliest` (monotonic seconds)
        goes to, one of `gates` gates; counted in that slot's load."""
        length, per_interval = grid(interval)
        first = math.ceil(earliest / length - 1e-9)
        room = max(self.floor, math.ceil(SHARE_SLACK * gates / per_interval))
        chosen, lightest = first, None
        for index in range(first, first + per_interval):
            load = self._load.get((length, index), 0)
            if load < room:
                chosen = index
                break
            if lightest is None or load < lightest:
                chosen, lightest = index, load
        self._load[(length, chosen)] = self._load.get((length, chosen), 0) + 1
        return chosen * length

    def load(self, at: float, interval: float) -> int:
        """How many gates were placed in the slot starting at `at`."""
        length, _ = grid(interval)
        return self._load.get((length, round(at / length)), 0)

    def forget_before(self, now: float) -> None:
        """Drop the loads of slots that have passed (a few per interval in use)."""
        for key in [k for k in self._load if (k[1] + 1) * k[0] < now]:
            del self._load[key]
