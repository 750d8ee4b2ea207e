"""Python's cycle collector, kept off the operator's long-lived objects.

A full collection walks every object the collector tracks. With 10,000 gates that is some
350,000 objects (records, specs, planned queries), and the objects a tick keeps alive for
its second survive two young collections, reach the oldest generation and soon trigger the
next full one: measured at 10,000 gates (bench.scale), ten full collections every 30 s of
0.25 s each, 40 % of the operator's CPU and a stalled event loop each time.

So the operator (1) collects its young generation less often, which leaves a tick's
objects time to die young, and (2) once the gates are listed, and again every few minutes,
collects everything once and freezes what survives (`gc.freeze`): the frozen objects are
never walked again. Freezing anew each time lets cycles among formerly frozen objects, if any
were made, be collected by the full collection before it, so nothing leaks for longer than
one period.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("canarygate.operator")

# Allocations (net of deallocations) between young collections; Python's default is 700.
YOUNG_THRESHOLD = 20_000
# How often survivors are collected once and frozen again.
REFREEZE_SECONDS = 300.0


def collect_young_less_often() -> None:
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def refreeze() -> float:
    """Collect everything once and freeze the survivors; the seconds it took."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return time.perf_counter() - started


async def keep_frozen(ready: asyncio.Event, period: float = REFREEZE_SECONDS) -> None:
    """Once `ready` (the gates listed), and every `period` after: `refreeze`."""
    await ready.wait()
    while True:
        took = refreeze()
        log.debug("froze %d long-lived objects in %.2f s", gc.get_freeze_count(), took)
        await asyncio.sleep(period)
