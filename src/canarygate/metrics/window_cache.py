"""Readings of slow windows kept across ticks, for one Prometheus (see `core.slow_windows` for
when a reading may stand in for a fresh one, and why that cannot change a decision).

An entry is a query's answer over a slow window and over its inner window, both numbers,
taken at one evaluation instant. It is never a silence: an answer that was missing, refused
or not a number is not stored, and a failed reading removes the entry, so the window is
asked again. An entry expires `max_age` after it was read, by the evaluation instant and by
the wall clock alike (an operator whose evaluation clock is pinned still reads again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from canarygate.core.durations import Duration
from canarygate.core.observations import Observation

# Past this many entries, expired ones are swept out before another is added.
SWEEP_ABOVE = 4096


@dataclass(frozen=True)
class Entry:
    """One query's answers over a slow window and its inner window, read at `at`."""

    value: float
    inner: float
    at: datetime
    read_at: float  # monotonic seconds
    max_age: float  # seconds

    def age(self, at: datetime, now: float) -> float | None:
        """Seconds since the reading, by whichever clock says more; None once it expired or
        when `at` is before the reading (an evaluation of the past)."""
        age = max((at - self.at).total_seconds(), now - self.read_at)
        if (at - self.at).total_seconds() < 0 or age > self.max_age:
            return None
        return age


class WindowCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._entries: dict[str, Entry] = {}
        self._sweep_at = SWEEP_ABOVE

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, promql: str, at: datetime) -> tuple[Entry, float] | None:
        """The entry for `promql` and its age in seconds, if it is still valid at `at`."""
        entry = self._entries.get(promql)
        if entry is None:
            return None
        age = entry.age(at, self._clock())
        if age is None:
            del self._entries[promql]
            return None
        return entry, age

    def put(
        self,
        promql: str,
        value: Observation | None,
        inner: Observation | None,
        at: datetime,
        max_age: Duration,
    ) -> bool:
        """Keep both answers if both are numbers, else forget any earlier reading."""
        number, inner_number = _number(value), _number(inner)
        if number is None or inner_number is None:
            self._entries.pop(promql, None)
            return False
        if len(self._entries) >= self._sweep_at:
            self._sweep(at)
        self._entries[promql] = Entry(number, inner_number, at, self._clock(), max_age.seconds)
        return True

    def _sweep(self, at: datetime) -> None:
        now = self._clock()
        self._entries = {k: e for k, e in self._entries.items() if e.age(at, now) is not None}
        self._sweep_at = max(SWEEP_ABOVE, 2 * len(self._entries))


def _number(value: Observation | None) -> float | None:
    """A finite, non-negative number; anything else (a silence, segments) is not kept."""
    if isinstance(value, bool) or not isinstance(value, float | int):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
