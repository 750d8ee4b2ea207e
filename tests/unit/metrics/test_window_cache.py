"""Slow-window readings kept across ticks: what is kept, when it expires, that each Prometheus
has its own, and how a tick uses them (MockTransport standing in for Prometheus)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import httpx
import pytest

from canarygate.core import (
    Duration,
    GateSpec,
    Missing,
    MissingKind,
    Observation,
    QueryKey,
    Role,
    Segmented,
    SliQueries,
)
from canarygate.core.queries import plan_queries
from canarygate.core.slow_windows import plan_slow_windows
from canarygate.core.specs import CanarySpec, JourneySpec
from canarygate.evaluating import ClientPool, Connection, config_for
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch
from canarygate.metrics import window_cache as window_cache_module
from canarygate.metrics.window_cache import WindowCache

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
DAY = Duration(86_400_000)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock: Clock) -> WindowCache:
    return WindowCache(clock=clock)


def test_a_reading_serves_until_it_expires_by_the_evaluation_clock(cache: WindowCache) -> None:
    assert cache.put("q", 2.0, 1.9, AT, Duration(300_000))
    found = cache.get("q", AT + timedelta(seconds=120))
    assert found is not None
    entry, age = found
    assert (entry.value, entry.inner, age) == (2.0, 1.9, 120.0)
    assert cache.get("q", AT + timedelta(seconds=300)) is not None
    assert cache.get("q", AT + timedelta(seconds=301)) is None
    assert len(cache) == 0  # an expired reading is dropped


def test_a_reading_expires_by_the_wall_clock_too(cache: WindowCache, clock: Clock) -> None:
    """An operator whose evaluation clock is pinned (the benchmarks') still reads again."""
    cache.put("q", 2.0, 1.9, AT, Duration(300_000))
    clock.now += 200
    found = cache.get("q", AT)
    assert found is not None
    assert found[1] == 200.0  # the older of the two ages
    clock.now += 101
    assert cache.get("q", AT) is None


def test_a_reading_never_serves_an_evaluation_of_the_past(cache: WindowCache) -> None:
    cache.put("q", 2.0, 1.9, AT, Duration(300_000))
    assert cache.get("q", AT - timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    "silence",
    [
        Missing(MissingKind.NO_DATA),
        Missing(MissingKind.UNREACHABLE),
        Missing(MissingKind.QUERY_ERROR),
        Segmented(("region",), {("eu",): 1.0}),
        math.nan,
        math.inf,
        -1.0,
        None,
        True,
    ],
)
def test_silence_and_what_is_not_a_count_are_never_kept(
    cache: WindowCache, silence: Observation | None
) -> None:
    assert not cache.put("q", silence, 1.0, AT, Duration(300_000))
    assert not cache.put("q", 1.0, silence, AT, Duration(300_000))
    assert cache.get("q", AT) is None


def test_a_failed_reading_forgets_the_earlier_one(cache: WindowCache) -> None:
    cache.put("q", 2.0, 1.9, AT, Duration(300_000))
    cache.put("q", Missing(MissingKind.UNREACHABLE), 1.9, AT + timedelta(seconds=30), DAY)
    assert cache.get("q", AT + timedelta(seconds=30)) is None


def test_expired_readings_are_swept_out(
    cache: WindowCache, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(window_cache_module, "SWEEP_ABOVE", 3)
    cache = WindowCache(clock=clock)
    for name in ("a", "b", "c"):
        cache.put(name, 1.0, 1.0, AT, Duration(60_000))
    clock.now += 61
    cache.put("d", 1.0, 1.0, AT + timedelta(seconds=61), Duration(60_000))
    assert len(cache) == 1


async def test_each_prometheus_has_its_own_readings() -> None:
    pool = ClientPool()
    one = config_for("http://prometheus:9090", None, Connection())
    same = config_for("HTTP://Prometheus:9090/", None, Connection())
    other = config_for("http://other:9090", None, Connection())
    assert pool.cache_for(one) is pool.cache_for(same)
    assert pool.cache_for(one) is not pool.cache_for(other)
    await pool.aclose()


# How a tick uses the readings -----------------------------------------------------------

SLI = SliQueries(
    good='sum(rate(requests_total{journey="checkout",code!~"5.."}[{{window}}]))',
    total='sum(rate(requests_total{journey="checkout"}[{{window}}]))',
)
SPEC = GateSpec(
    journeys=(JourneySpec("checkout", 99.9, SLI),), canary=CanarySpec(steps=(5, 10, 100))
)
PLAN = plan_queries(SPEC)
SLOW = plan_slow_windows(SPEC)
SLOW_KEYS = [key for s in SLOW for key in (s.good.key, s.total.key)]
PART = re.compile(r'label_replace\(\n(.*?)\n, "(\w+)", "(\d+)", "", ""\)', re.S)

# The error ratio of a window, by its text, at 100 requests a second.
Ratios = Callable[[str], float | None]


class FakePrometheus:
    """Answers each journey query from `ratios` (None: no data), packed or alone, and notes
    which windows were asked for."""

    def __init__(self, ratios: Ratios) -> None:
        self.ratios = ratios
        self.windows: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused")
        query = parse_qs(request.content.decode())["query"][0]
        parts = PART.findall(query) or [(query, "", "")]
        result = []
        for text, label, index in parts:
            value = self.answer(text)
            if value is not None:
                metric = {label: index} if label else {}
                result.append({"metric": metric, "value": [0, str(value)]})
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return httpx.Response(200, json=body)

    def answer(self, query: str) -> float | None:
        if "timestamp(" in query:
            return 10.0  # the newest sample is 10 s old
        window = re.search(r"\[(\w+)\]", query)
        assert window is not None
        self.windows.append(window.group(1))
        ratio = self.ratios(window.group(1))
        if ratio is None:
            return None
        return 100.0 * (1 - ratio) if "code!~" in query else 100.0


def steady(window: str) -> float | None:
    return 0.0005  # burn 0.5 everywhere: half the month's budget left, far from every rule


async def tick(
    prometheus: FakePrometheus, cache: WindowCache | None, at: datetime
) -> tuple[dict[QueryKey, Observation], QueryBatch]:
    config = PrometheusConfig(address="http://prom", backoff=0, retries=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(prometheus)) as client:
        batch = QueryBatch(client, at, cache=cache)
        observed = await batch.observe(PLAN, SLOW)
    return observed, batch


async def test_slow_windows_are_read_once_with_their_inner_window_then_kept(
    cache: WindowCache,
) -> None:
    prometheus = FakePrometheus(steady)
    first, batch = await tick(prometheus, cache, AT)
    assert {"1d", "23h55m", "3d", "2d23h45m", "30d", "29d21h30m"} <= set(prometheus.windows)
    assert batch.cached == 0
    assert set(first) == {q.key for q in PLAN}  # the inner windows are not observations

    prometheus.windows.clear()
    second, batch = await tick(prometheus, cache, AT + timedelta(seconds=30))
    assert sorted(set(prometheus.windows)) == ["1h", "2h", "30m", "5m", "6h"]
    assert batch.cached == 6
    assert batch.reread == 0
    assert {k: second[k] for k in SLOW_KEYS} == {k: first[k] for k in SLOW_KEYS}


async def test_prometheus_down_is_silence_whatever_was_kept(cache: WindowCache) -> None:
    prometheus = FakePrometheus(steady)
    await tick(prometheus, cache, AT)
    prometheus.down = True
    observed, batch = await tick(prometheus, cache, AT + timedelta(seconds=30))
    assert batch.cached == 0
    for key in SLOW_KEYS:
        sample = observed[key]
        assert isinstance(sample, Missing)
        assert sample.kind is MissingKind.UNREACHABLE


async def test_a_silent_fresh_window_sends_the_slow_windows_to_prometheus(
    cache: WindowCache,
) -> None:
    """No bound without this tick's fresh window: the slow windows are asked, and answer what
    Prometheus answers (here: a value; the journey is unknown anyway for its silent 5m)."""
    await tick(FakePrometheus(steady), cache, AT)
    quiet = FakePrometheus(lambda window: None if window == "5m" else 0.0005)
    observed, batch = await tick(quiet, cache, AT + timedelta(seconds=30))
    assert batch.cached == 0
    assert batch.reread == 3
    assert {"1d", "3d", "30d"} <= set(quiet.windows)
    assert isinstance(observed[QueryKey("checkout", Role.TOTAL, Duration(300_000))], Missing)


async def test_near_a_threshold_a_window_is_read_again_every_tick(cache: WindowCache) -> None:
    """The day at burn 2.99: a few minutes of errors could take it past the 1d rule's 3, so it
    is read again; the 3d and 30d windows, far from theirs, are answered from their readings."""
    prometheus = FakePrometheus(lambda window: 0.00299 if window in ("1d", "23h55m") else 0.0005)
    await tick(prometheus, cache, AT)
    prometheus.windows.clear()
    observed, batch = await tick(prometheus, cache, AT + timedelta(seconds=30))
    assert "1d" in prometheus.windows
    assert "3d" not in prometheus.windows
    assert "30d" not in prometheus.windows
    assert (batch.cached, batch.reread) == (4, 1)
    assert observed[QueryKey("checkout", Role.GOOD, DAY)] == pytest.approx(100 * (1 - 0.00299))


async def test_an_outage_in_the_fresh_window_reads_the_slow_ones_again(
    cache: WindowCache,
) -> None:
    await tick(FakePrometheus(steady), cache, AT)
    outage = FakePrometheus(lambda window: 1.0 if window == "5m" else 0.0005)
    await tick(outage, cache, AT + timedelta(seconds=30))
    assert "1d" in outage.windows


async def test_each_window_is_read_again_once_its_reading_expired(cache: WindowCache) -> None:
    prometheus = FakePrometheus(steady)
    await tick(prometheus, cache, AT)
    prometheus.windows.clear()
    _, batch = await tick(prometheus, cache, AT + timedelta(minutes=6))
    assert "1d" in prometheus.windows  # kept for 5m
    assert "3d" not in prometheus.windows  # 15m
    assert "30d" not in prometheus.windows  # 2h30m
    assert batch.cached == 4


async def test_a_slow_window_that_answered_nothing_is_asked_again(cache: WindowCache) -> None:
    prometheus = FakePrometheus(lambda window: None if window == "1d" else 0.0005)
    first, _ = await tick(prometheus, cache, AT)
    assert isinstance(first[QueryKey("checkout", Role.TOTAL, DAY)], Missing)
    prometheus.windows.clear()
    second, batch = await tick(prometheus, cache, AT + timedelta(seconds=30))
    assert "1d" in prometheus.windows
    assert isinstance(second[QueryKey("checkout", Role.TOTAL, DAY)], Missing)
    assert batch.cached == 4


async def test_without_a_cache_every_window_is_read_and_no_inner_one() -> None:
    prometheus = FakePrometheus(steady)
    for seconds in (0, 30):
        await tick(prometheus, None, AT + timedelta(seconds=seconds))
    assert prometheus.windows.count("1d") == 4  # good and total, twice
    assert "23h55m" not in prometheus.windows
