"""When each gate is next due: one heap for every gate, not a timer per gate.

`DueQueue` maps gate keys to due times (monotonic seconds). Re-scheduling a gate pushes a new
entry and leaves the old one in the heap; popping skips entries that no longer match the
gate's current due time (lazy deletion), so every operation is O(log n) and nothing scans
all gates. `wait_for_due` sleeps until the earliest gate is due or something new arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
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
