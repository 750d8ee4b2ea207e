"""The cycle collector kept off long-lived objects: young collections less often, survivors
frozen once the gates are listed and again every period."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from canarygate.operator import heap


@pytest.fixture(autouse=True)
def restore_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_young_collections_come_less_often_and_older_ones_keep_their_ratio() -> None:
    gc.set_threshold(700, 10, 10)
    heap.collect_young_less_often()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)


def test_a_frozen_cycle_outlives_full_collections_until_the_next_refreeze() -> None:
    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    alive = weakref.ref(first)
    heap.refreeze()
    assert gc.get_freeze_count() > 0
    del first, second
    gc.collect()
    assert alive() is not None  # frozen: no collection walks it
    heap.refreeze()  # unfrozen, collected, the survivors frozen again
    assert alive() is None


async def test_nothing_is_frozen_before_the_gates_are_listed() -> None:
    gc.unfreeze()
    ready = asyncio.Event()
    task = asyncio.create_task(heap.keep_frozen(ready, period=60))
    await asyncio.sleep(0.01)
    assert gc.get_freeze_count() == 0
    ready.set()
    for _ in range(100):
        await asyncio.sleep(0.01)
        if gc.get_freeze_count():
            break
    assert gc.get_freeze_count() > 0
    task.cancel()
