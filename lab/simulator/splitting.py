"""Deterministic splitting of request counts: whole requests, no randomness, no drift.

Each call splits `total` by `fraction` and keeps the rounding remainder for the next call,
so over any run of calls the split count never differs from `fraction * sum(totals)` by one
request or more — tests can assert shares exactly instead of statistically.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class CarrySplitter:
    """Split integer counts by a fraction in [0, 1], carrying the fractional remainder."""

    carry: float = 0.0

    def split(self, total: int, fraction: float) -> int:
        """How many of `total` go to the `fraction` side (the rest go to the other side)."""
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        if not 0.0 <= fraction <= 1.0 or math.isnan(fraction):
            raise ValueError(f"fraction must be within [0, 1], got {fraction}")
        exact = total * fraction + self.carry
        # A float sum like 2.9999999999999996 must count as 3; the epsilon is far below
        # one request, so it cannot bias a long run.
        taken = min(total, math.floor(exact + 1e-9))
        self.carry = exact - taken
        return taken


@dataclass
class CarryCounter:
    """Turn a rate (per second) and elapsed seconds into whole request counts, carrying the
    fractional part so that a rate of 2.5/s yields 5 requests over any 2 seconds."""

    carry: float = 0.0

    def take(self, rate: float, seconds: float) -> int:
        exact = rate * seconds + self.carry
        taken = math.floor(exact + 1e-9)
        self.carry = exact - taken
        return taken
