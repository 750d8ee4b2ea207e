"""The circuit breaker of one Prometheus: after enough failed rounds in a row, queries fail
fast for a cooldown instead of each waiting out its own timeouts against a dead server.

Failures are counted in sequence, not in parallel. A failed attempt counts only if it started
after the previous counted failure ended, so many queries failing together (one overload
spike, one network blip) are one failed round, and their retries still happen. Any success
resets the count. With `threshold` = retries, the breaker opens when failures have gone on
for as many rounds as one query may make.

A `Retry-After` on a failure keeps the breaker, once open, open at least that long (capped at
`MAX_RETRY_AFTER`, so a misconfigured proxy cannot silence a Prometheus for a day).
"""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_RETRY_AFTER = 300.0


class CircuitBreaker:
    def __init__(
        self, *, threshold: int, cooldown: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._rounds = 0
        self._last_counted_end = -float("inf")
        self._open_until = -float("inf")
        self._because = ""

    def attempt_started(self) -> float:
        """Note an attempt starting; pass the returned time to `failed`."""
        return self._clock()

    def succeeded(self) -> None:
        self._rounds = 0
        self._last_counted_end = -float("inf")

    def failed(self, started: float, problem: str, retry_after: float | None = None) -> bool:
        """Count a failed attempt that began at `started`; True if this opened the breaker."""
        now = self._clock()
        was_open = now < self._open_until
        if started >= self._last_counted_end:
            self._rounds += 1
            self._last_counted_end = now
        if self._rounds <= self.threshold and not was_open:
            return False
        hold = min(retry_after or 0.0, MAX_RETRY_AFTER)
        until = now + max(self.cooldown, hold)
        if until > self._open_until:
            self._open_until = until
            self._because = self._describe(problem, retry_after)
        return not was_open

    def open_reason(self) -> str | None:
        """Why queries must not be sent now, or None when they may."""
        left = self._open_until - self._clock()
        if left <= 0:
            return None
        return f"{self._because}; not sent (circuit breaker open for {left:.1f}s more)"

    def _describe(self, problem: str, retry_after: float | None) -> str:
        rounds = f"{self._rounds} failed round{'' if self._rounds == 1 else 's'} in a row"
        asked = f"; it asked to wait {retry_after:g}s (Retry-After)" if retry_after else ""
        return f"Prometheus unavailable: {rounds}, last: {problem}{asked}"
