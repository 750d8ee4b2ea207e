"""Capped exponential backoff with jitter, so many clients do not retry in lockstep."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    base: float = 0.5  # seconds before the first retry
    cap: float = 30.0  # never wait longer than this
    jitter: float = 0.5  # up to this fraction of the delay is removed at random

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        exponent = min(max(attempt - 1, 0), 32)
        raw = min(self.cap, self.base * 2.0**exponent)
        return raw * (1.0 - self.jitter * random.random())
