"""Synthetic metric histories for the fixture Prometheus, written as OpenMetrics for
`promtool tsdb create-blocks-from openmetrics`.

Every scenario is a distinct `journey` (SLI counters and latency histograms) or `app`
(canary/stable guardrail counters) label value, so one Prometheus serves all of them at
once. Evaluate at `FIXTURE_NOW`. Error ratios are functions of the age of a sample, so a
scenario reads like its description: "2 % errors during the last 70 minutes".
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

FIXTURE_NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
NOW_S = int(FIXTURE_NOW.timestamp())
MINUTE = 60
HOUR = 3600
DAY = 86400
HISTORY = 31 * DAY

Profile = Callable[[float], float]  # age in seconds -> value


def constant(value: float) -> Profile:
    return lambda _age: value


def recent(base: float, value: float, within: float) -> Profile:
    """`value` during the last `within` seconds, `base` before."""
    return lambda age: value if age < within else base


def between(base: float, value: float, newest: float, oldest: float) -> Profile:
    """`value` for ages in [newest, oldest), `base` otherwise (an episode in the past)."""
    return lambda age: value if newest <= age < oldest else base


FIFTY_PER_SECOND = constant(50.0)


@dataclass(frozen=True)
class JourneyHistory:
    """Request counters `http_requests_total{journey, code}` at `rate` requests per second."""

    journey: str
    error_ratio: Profile
    rate: Profile = FIFTY_PER_SECOND
    stops_at_age: float = 0.0  # no samples newer than this (a telemetry gap)
    description: str = ""


@dataclass(frozen=True)
class LatencyHistory:
    """`http_request_duration_seconds_{bucket,count,sum}{journey}` with a share of slow requests."""

    journey: str
    slow_ratio: Profile  # share of requests slower than 0.3 s
    rate: float = 50.0
    description: str = ""


@dataclass(frozen=True)
class CanaryHistory:
    """`http_requests_total{app, version, code}` for a stable and a canary version."""

    app: str
    canary_error_ratio: float
    canary_rate: float
    stable_error_ratio: float = 0.001
    stable_rate: float = 100.0
    canary_slow_ratio: float = 0.002  # share of canary requests slower than 0.3 s
    span: float = 6 * HOUR
    description: str = ""


JOURNEYS = [
    JourneyHistory("healthy", constant(0.0001), description="0.01 % errors throughout"),
    JourneyHistory(
        "fastburn",
        recent(0.0001, 0.02, 70 * MINUTE),
        description="2 % errors (burn 20) for the last 70 minutes",
    ),
    JourneyHistory(
        "slowburn",
        recent(0.0001, 0.007, 7 * HOUR),
        description="0.7 % errors (burn 7) for the last 7 hours",
    ),
    JourneyHistory(
        "yellowburn",
        recent(0.0001, 0.004, 26 * HOUR),
        description="0.4 % errors (burn 4) for the last 26 hours",
    ),
    JourneyHistory(
        "oldblip",
        between(0.0001, 1.0, 35 * MINUTE, 45 * MINUTE),
        description="every request failed from 45 to 35 minutes ago, clean since",
    ),
    JourneyHistory(
        "exhausted",
        constant(0.0012),
        description="0.12 % errors for the whole month: budget overspent",
    ),
    JourneyHistory(
        "gap",
        constant(0.0001),
        stops_at_age=20 * MINUTE,
        description="healthy, but no samples for the last 20 minutes",
    ),
    JourneyHistory(
        "idle",
        constant(0.0001),
        rate=recent(50.0, 0.0, 3 * HOUR),
        description="no requests at all for the last 3 hours (total = 0)",
    ),
    # The journeys of examples/checkout-gate.yaml, used by the demo.
    JourneyHistory("checkout", constant(0.0002), description="0.02 % errors"),
    JourneyHistory("login", constant(0.001), description="0.1 % errors"),
    # The journey of examples/payments-gate.yaml: an incident in progress.
    JourneyHistory(
        "payments",
        recent(0.0001, 0.03, 40 * MINUTE),
        description="3 % errors (burn 30) for the last 40 minutes",
    ),
]

LATENCIES = [
    LatencyHistory("latency-ok", constant(0.002), description="0.2 % slower than 0.3 s"),
    LatencyHistory(
        "latency-slow",
        recent(0.002, 0.2, 70 * MINUTE),
        description="20 % slower than 0.3 s for the last 70 minutes",
    ),
    LatencyHistory("search", constant(0.001), description="0.1 % slower than 0.3 s"),
]

CANARIES = [
    CanaryHistory("steady", 0.001, 20.0, description="canary as good as stable"),
    CanaryHistory("broken", 0.05, 20.0, description="canary fails 5 % of requests"),
    CanaryHistory("trickle", 0.0, 0.2, description="canary gets 12 requests a minute"),
    CanaryHistory(
        "checkout", 0.0015, 20.0, canary_slow_ratio=0.004, description="the example gate's canary"
    ),
    CanaryHistory("payments", 0.04, 20.0, description="the payments canary fails 4 %"),
]

LATENCY_BUCKETS = ("0.1", "0.3", "1", "+Inf")
# Share of requests at or below each bucket bound, given the share slower than 0.3 s.
_BUCKET_SHARES: dict[str, Callable[[float], float]] = {
    "0.1": lambda slow: 0.7 * (1 - slow),
    "0.3": lambda slow: 1 - slow,
    "1": lambda slow: 1 - slow * 0.2,
    "+Inf": lambda _slow: 1.0,
}


def sample_ages(oldest: float, stops_at_age: float = 0.0) -> list[float]:
    """Ages (seconds before now), oldest first: coarse far back, fine where short windows look.

    15 s steps for the last 3 h serve the 1m/5m windows, 1 min steps back to 4 days serve
    the hour and day windows, and 10 min steps serve the 30-day budget window.
    """
    ages: set[float] = set()
    for start, end, step in ((HISTORY, 4 * DAY, 600), (4 * DAY, 3 * HOUR, 60), (3 * HOUR, 0, 15)):
        age = float(min(start, oldest))
        while age >= end:
            ages.add(age)
            age -= step
    ages.add(0.0)
    return sorted((a for a in ages if stops_at_age <= a <= oldest), reverse=True)


@dataclass
class _Counter:
    """Integrates a per-second rate over the sample grid into a monotonic counter."""

    value: float = 0.0
    points: list[tuple[float, float]] = field(default_factory=list)

    def advance(self, age: float, previous_age: float | None, rate: float) -> None:
        if previous_age is not None:
            self.value += rate * (previous_age - age)
        self.points.append((age, self.value))


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _lines(name: str, labels: dict[str, str], points: list[tuple[float, float]]) -> Iterator[str]:
    rendered = _labels(labels)
    for age, value in points:
        yield f"{name}{rendered} {value:.6f} {NOW_S - age:.0f}"


def _journey_series(history: JourneyHistory) -> Iterator[tuple[dict[str, str], _Counter]]:
    good, bad = _Counter(), _Counter()
    previous: float | None = None
    for age in sample_ages(HISTORY, history.stops_at_age):
        # The rate that applied during the interval ending at this sample.
        mid = age if previous is None else (age + previous) / 2
        rate, ratio = history.rate(mid), history.error_ratio(mid)
        good.advance(age, previous, rate * (1 - ratio))
        bad.advance(age, previous, rate * ratio)
        previous = age
    yield {"journey": history.journey, "code": "200"}, good
    yield {"journey": history.journey, "code": "500"}, bad


def _canary_series(history: CanaryHistory) -> Iterator[tuple[dict[str, str], _Counter]]:
    versions = (
        ("stable", history.stable_rate, history.stable_error_ratio),
        ("canary", history.canary_rate, history.canary_error_ratio),
    )
    for version, rate, ratio in versions:
        for code, share in (("200", 1 - ratio), ("500", ratio)):
            counter = _Counter()
            previous: float | None = None
            for age in sample_ages(history.span):
                counter.advance(age, previous, rate * share)
                previous = age
            yield {"app": history.app, "version": version, "code": code}, counter


def _histogram_lines(
    labels: dict[str, str], rate: float, slow_ratio: Profile, ages: list[float]
) -> Iterator[str]:
    buckets = {le: _Counter() for le in LATENCY_BUCKETS}
    total_seconds = _Counter()
    previous: float | None = None
    for age in ages:
        mid = age if previous is None else (age + previous) / 2
        slow = slow_ratio(mid)
        for le, counter in buckets.items():
            counter.advance(age, previous, rate * _BUCKET_SHARES[le](slow))
        total_seconds.advance(age, previous, rate * (0.08 + 0.5 * slow))
        previous = age
    for le, counter in buckets.items():
        yield from _lines(
            "http_request_duration_seconds_bucket", {**labels, "le": le}, counter.points
        )
    yield from _lines("http_request_duration_seconds_count", labels, buckets["+Inf"].points)
    yield from _lines("http_request_duration_seconds_sum", labels, total_seconds.points)


def _latency_lines(history: LatencyHistory) -> Iterator[str]:
    labels = {"journey": history.journey}
    yield from _histogram_lines(labels, history.rate, history.slow_ratio, sample_ages(HISTORY))


def _canary_latency_lines(history: CanaryHistory) -> Iterator[str]:
    ages = sample_ages(history.span)
    for version, rate, slow in (
        ("stable", history.stable_rate, 0.002),
        ("canary", history.canary_rate, history.canary_slow_ratio),
    ):
        labels = {"app": history.app, "version": version}
        yield from _histogram_lines(labels, rate, constant(slow), ages)


# A week of a storefront, sampled every 30 s, for replays (`canarygate replay`). Its events,
# by their start before FIXTURE_NOW, are what the replay tests and docs/replay.md expect.
WEEK = 7 * DAY
WEEK_STEP = 30
CANARY_BLIP_AGE = 6 * DAY  # the canary fails 20 % of requests for one minute
CUSTOMER_BLIP_AGE = 5 * DAY  # customers see 5 % errors for one minute (burn 50 over 1m)
BROWSE_GAP_AGE = 3 * DAY  # browse's exporter stops for 20 minutes
INCIDENT_AGE = 2 * DAY  # customers see 10 % errors (burn 100) for one hour
INCIDENT_MINUTES = 60
# During the replay of the incident day, a second canary blip while the canary ramps again.
RAMP_BLIP_AGE = INCIDENT_AGE - 7 * HOUR - 6 * MINUTE


def minute_blip(base: float, value: float, age: float) -> Profile:
    """`value` during the minute that ends `age` seconds before now."""
    return between(base, value, age - MINUTE, age)


@dataclass(frozen=True)
class WeekJourney:
    """A journey sampled every WEEK_STEP seconds for the last 8 days (10 min before)."""

    journey: str
    error_ratio: Profile
    rate: float = 50.0
    gaps: tuple[tuple[float, float], ...] = ()  # (newest, oldest) ages without samples
    description: str = ""


@dataclass(frozen=True)
class WeekCanary:
    """A canary and its stable, sampled like WeekJourney for the last 8 days."""

    app: str
    canary_error_ratio: Profile
    canary_rate: float = 20.0
    stable_error_ratio: float = 0.001
    stable_rate: float = 100.0
    description: str = ""


def _storefront_errors(age: float) -> float:
    if INCIDENT_AGE - INCIDENT_MINUTES * MINUTE <= age < INCIDENT_AGE:
        return 0.10
    return minute_blip(0.0002, 0.05, CUSTOMER_BLIP_AGE)(age)


def _storefront_canary_errors(age: float) -> float:
    if CANARY_BLIP_AGE - MINUTE <= age < CANARY_BLIP_AGE:
        return 0.20
    return minute_blip(0.001, 0.20, RAMP_BLIP_AGE)(age)


WEEK_JOURNEYS = [
    WeekJourney(
        "storefront",
        _storefront_errors,
        description="0.02 % errors; a one-minute blip of 5 % five days ago; an incident of "
        "10 % errors for an hour two days ago",
    ),
    WeekJourney(
        "browse",
        constant(0.001),
        rate=30.0,
        gaps=((BROWSE_GAP_AGE - 20 * MINUTE, BROWSE_GAP_AGE),),
        description="0.1 % errors; no samples for 20 minutes three days ago",
    ),
]
WEEK_CANARIES = [
    WeekCanary(
        "storefront",
        _storefront_canary_errors,
        description="canary as good as stable but for two one-minute blips of 20 % errors",
    ),
]


def week_sample_ages(gaps: tuple[tuple[float, float], ...] = ()) -> list[float]:
    """Ages oldest first: every 10 minutes back to 31 days, every WEEK_STEP s for 8 days."""
    ages = {float(a) for a in range(HISTORY, 8 * DAY, -600)}
    ages |= {float(a) for a in range(8 * DAY, -1, -WEEK_STEP)}
    return sorted(
        (a for a in ages if not any(newest < a <= oldest for newest, oldest in gaps)),
        reverse=True,
    )


def _integrated(ages: list[float], rate: Profile) -> _Counter:
    counter = _Counter()
    previous: float | None = None
    for age in ages:
        # Integrated on the full grid, so that a gap hides samples, not the events in it.
        counter.advance(age, previous, rate(age if previous is None else (age + previous) / 2))
        previous = age
    return counter


def _split(rate: float, errors: Profile) -> tuple[tuple[str, Profile], ...]:
    """Requests per second by status code: good ones as 200, errors as 500."""
    return (("200", lambda age: rate * (1 - errors(age))), ("500", lambda age: rate * errors(age)))


def _week_journey_lines(history: WeekJourney) -> Iterator[str]:
    grid = week_sample_ages()
    kept = set(week_sample_ages(history.gaps))
    for code, rate in _split(history.rate, history.error_ratio):
        points = [(age, value) for age, value in _integrated(grid, rate).points if age in kept]
        yield from _lines("http_requests_total", {"journey": history.journey, "code": code}, points)


def _week_canary_lines(history: WeekCanary) -> Iterator[str]:
    grid = week_sample_ages()
    versions: tuple[tuple[str, float, Profile], ...] = (
        ("stable", history.stable_rate, constant(history.stable_error_ratio)),
        ("canary", history.canary_rate, history.canary_error_ratio),
    )
    for version, total, errors in versions:
        for code, rate in _split(total, errors):
            labels = {"app": history.app, "version": version, "code": code}
            yield from _lines("http_requests_total", labels, _integrated(grid, rate).points)


def openmetrics() -> str:
    """The whole fixture as one OpenMetrics document (families grouped, samples in time order)."""
    from lab import segment_histories  # it builds on this module's helpers

    lines = ["# TYPE http_requests_total unknown"]
    for journey in JOURNEYS:
        for labels, counter in _journey_series(journey):
            lines.extend(_lines("http_requests_total", labels, counter.points))
    for canary in CANARIES:
        for labels, counter in _canary_series(canary):
            lines.extend(_lines("http_requests_total", labels, counter.points))
    for week_journey in WEEK_JOURNEYS:
        lines.extend(_week_journey_lines(week_journey))
    for week_canary in WEEK_CANARIES:
        lines.extend(_week_canary_lines(week_canary))
    lines.extend(segment_histories.request_lines())
    families: dict[str, list[str]] = {"bucket": [], "count": [], "sum": []}
    latency_lines = itertools.chain(
        itertools.chain.from_iterable(_latency_lines(latency) for latency in LATENCIES),
        itertools.chain.from_iterable(_canary_latency_lines(canary) for canary in CANARIES),
    )
    for line in latency_lines:
        family = line.split("{", 1)[0].rsplit("_", 1)[1]
        families[family].append(line)
    for family, family_lines in families.items():
        lines.append(f"# TYPE http_request_duration_seconds_{family} unknown")
        lines.extend(family_lines)
    lines.extend(segment_histories.other_families())
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def fingerprint() -> str:
    """Changes whenever this module (or lab.segment_histories) changes, so cached blocks are
    rebuilt."""
    from lab import segment_histories

    source = inspect.getsource(inspect.getmodule(fingerprint))  # type: ignore[arg-type]
    source += inspect.getsource(segment_histories)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def write_openmetrics(path: Path) -> Path:
    path.write_text(openmetrics())
    return path
