"""When to try again and when to stop: jittered backoff, `Retry-After`, and the deadline of a
whole query.

A query's deadline (`PrometheusConfig.query_deadline`, by default `timeout x (retries + 1)`)
starts when the query first gets a connection slot and covers every attempt, every wait
between attempts and every later wait for a slot. Each attempt is also bounded, as a whole
(connect, send and the entire body), by `timeout` or by what is left of the deadline.
The wait for the first slot is not included: it is bounded by the queries ahead, each of
which is bounded in the same way.
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC
from email.utils import parsedate_to_datetime


def backoff_delay(attempt: int, base: float, ceiling: float) -> float:
    """Exponential backoff before retry number `attempt` (1, 2...), with jitter so that many
    gates retrying at once spread out."""
    top = min(ceiling, base * 2.0 ** (attempt - 1))
    return top * (0.5 + random.random() / 2)


def retry_after_seconds(header: str | None, *, now: float) -> float | None:
    """Seconds a `Retry-After` header asks us to wait (whole seconds or an HTTP-date;
    `now` is unix time), or None when there is no usable header."""
    text = (header or "").strip()
    if text.isdigit() and len(text) <= 12:
        return float(text)
    if not text or text[0].isdigit() or text[0] in "+-":
        return None  # "1.5", "-5", "1e9": not the header's grammar
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    wait = when.timestamp() - now
    return max(0.0, wait) if math.isfinite(wait) else None


class Deadline:
    """The time left for one query, counted from `start()` (the first connection slot)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends: float | None = None

    def start(self) -> None:
        if self._ends is None:
            self._ends = time.monotonic() + self.seconds

    def remaining(self) -> float:
        return self.seconds if self._ends is None else self._ends - time.monotonic()
