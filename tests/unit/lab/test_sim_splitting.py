"""Split arithmetic: whole requests, exact shares over time, no randomness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lab.simulator.splitting import CarryCounter, CarrySplitter


def test_carry_makes_small_batches_exact() -> None:
    splitter = CarrySplitter()
    taken = [splitter.split(1, 0.3) for _ in range(10)]
    assert sum(taken) == 3
    assert taken == [0, 0, 0, 1, 0, 0, 1, 0, 0, 1]


@pytest.mark.parametrize(("fraction", "expected"), [(0.0, 0), (1.0, 10), (0.5, 5)])
def test_edges(fraction: float, expected: int) -> None:
    assert CarrySplitter().split(10, fraction) == expected


@pytest.mark.parametrize(("total", "fraction"), [(-1, 0.5), (1, -0.1), (1, 1.1), (1, float("nan"))])
def test_rejects_bad_input(total: int, fraction: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        CarrySplitter().split(total, fraction)


@given(
    batches=st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=200),
    fraction=st.floats(min_value=0.0, max_value=1.0),
)
def test_running_total_never_drifts_by_a_request(batches: list[int], fraction: float) -> None:
    splitter = CarrySplitter()
    taken = 0
    offered = 0
    for batch in batches:
        share = splitter.split(batch, fraction)
        assert 0 <= share <= batch
        taken += share
        offered += batch
        assert abs(taken - offered * fraction) < 1.0


def test_counter_turns_a_fractional_rate_into_exact_counts() -> None:
    counter = CarryCounter()
    assert sum(counter.take(2.5, 0.1) for _ in range(20)) == 5


@given(
    rate=st.floats(min_value=0.0, max_value=500.0),
    steps=st.lists(st.floats(min_value=0.0, max_value=2.0), max_size=100),
)
def test_counter_tracks_rate_times_time(rate: float, steps: list[float]) -> None:
    counter = CarryCounter()
    taken = sum(counter.take(rate, step) for step in steps)
    assert abs(taken - rate * sum(steps)) < 1.0
