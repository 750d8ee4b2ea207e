"""Token buckets, one per key (a caller, or the address of a client whose token failed):
`rate` requests a second on average, bursts of `burst`. Buckets that have refilled are
dropped now and then, so the map holds only keys seen recently.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Final

SWEEP_EVERY: Final = 1024  # takes between sweeps of full buckets


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(
        self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._takes = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def _level(self, key: Hashable, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def take(self, key: Hashable) -> float | None:
        """Spend one token of `key`'s bucket: None when there was one, else the seconds until
        there will be (for Retry-After)."""
        now = self._clock()
        self._takes += 1
        if self._takes % SWEEP_EVERY == 0:
            self._sweep(now)
        bucket = self._level(key, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def blocked(self, key: Hashable) -> float | None:
        """Like take() without spending: the wait when `key` has no token left, else None."""
        if key not in self._buckets:
            return None
        bucket = self._level(key, self._clock())
        return None if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
