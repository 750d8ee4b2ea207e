"""Generate the synthetic requests and keep their Prometheus metrics.

The Simulator owns all counters; `advance(seconds)` turns elapsed time into a whole number
of requests per journey (rate carried across calls), splits them between stable and canary
by the current weight, marks errors, and observes latencies. Every step is deterministic:
the same calls produce the same counts, so tests can assert shares and ratios exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from lab.simulator.faults import Faults
from lab.simulator.splitting import CarryCounter, CarrySplitter

VERSIONS = ("stable", "canary")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Fixed spread of each request's latency around the journey's base latency (mean 1.0),
# cycled request by request: a stable, repeatable distribution with a realistic tail.
LATENCY_SPREAD = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.1, 1.2, 1.4, 1.8, 2.0)
DEFAULT_BASE_LATENCY = {"login": 0.04, "checkout": 0.12, "search": 0.07}


@dataclass(frozen=True)
class SimulatorConfig:
    journeys: tuple[str, ...] = ("login", "checkout", "search")
    rate: float = 20.0  # requests per second, per journey
    baseline_error_ratio: float = 0.0  # errors served by both versions regardless of faults
    base_latency: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_BASE_LATENCY))

    def latency_of(self, journey: str) -> float:
        return self.base_latency.get(journey, 0.05)


@dataclass
class _Series:
    """The counters of one (journey, version)."""

    codes: dict[str, int] = field(default_factory=lambda: {"200": 0, "500": 0})
    buckets: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    latency_sum: float = 0.0
    latency_count: int = 0
    errors: CarrySplitter = field(default_factory=CarrySplitter)
    spread_index: int = 0

    def observe(self, latency: float) -> None:
        for index, bound in enumerate(BUCKETS):
            if latency <= bound:
                self.buckets[index] += 1
        self.latency_sum += latency
        self.latency_count += 1


class Simulator:
    """Thread-safe: the generator thread calls advance(), the poller set_weight(), the HTTP
    server render() and set_faults()."""

    def __init__(self, config: SimulatorConfig, *, provider: str = "static") -> None:
        self.config = config
        self.provider = provider
        self._lock = threading.Lock()
        self._weight = 0.0
        self._weight_source_up = False
        self._faults = Faults()
        self._counters = {journey: CarryCounter() for journey in config.journeys}
        self._splitters = {journey: CarrySplitter() for journey in config.journeys}
        self._series = {(j, v): _Series() for j in config.journeys for v in VERSIONS}
        self._seconds = 0.0

    # -- inputs ------------------------------------------------------------------------
    def set_weight(self, percent: float) -> None:
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"weight must be within [0, 100], got {percent}")
        with self._lock:
            self._weight = percent
            self._weight_source_up = True

    def mark_weight_source_down(self) -> None:
        """The traffic object could not be read: keep the last weight, but say so."""
        with self._lock:
            self._weight_source_up = False

    def set_faults(self, faults: Faults) -> None:
        with self._lock:
            self._faults = faults

    @property
    def weight(self) -> float:
        with self._lock:
            return self._weight

    @property
    def weight_source_up(self) -> bool:
        with self._lock:
            return self._weight_source_up

    @property
    def faults(self) -> Faults:
        with self._lock:
            return self._faults

    # -- generation --------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Generate the requests of `seconds` of traffic at the current weight and faults."""
        with self._lock:
            self._seconds += seconds
            for journey in self.config.journeys:
                total = self._counters[journey].take(self.config.rate, seconds)
                share = self._weight / 100.0
                if self._faults.applies_to(journey):
                    share *= self._faults.canary_served_ratio
                canary = self._splitters[journey].split(total, share)
                self._serve(journey, "stable", total - canary)
                self._serve(journey, "canary", canary)

    def _serve(self, journey: str, version: str, count: int) -> None:
        series = self._series[journey, version]
        error_ratio = self.config.baseline_error_ratio
        added_latency = 0.0
        # Independent failure sources: P(ok) = (1 - baseline) * (1 - fleet) * (1 - canary).
        if self._faults.applies_to(journey):
            error_ratio = 1 - (1 - error_ratio) * (1 - self._faults.fleet_error_ratio)
        if version == "canary" and self._faults.applies_to(journey):
            error_ratio = 1 - (1 - error_ratio) * (1 - self._faults.error_ratio)
            added_latency = self._faults.added_latency
        errors = series.errors.split(count, min(1.0, error_ratio))
        series.codes["500"] += errors
        series.codes["200"] += count - errors
        base = self.config.latency_of(journey)
        for _ in range(count):
            spread = LATENCY_SPREAD[series.spread_index % len(LATENCY_SPREAD)]
            series.spread_index += 1
            series.observe(base * spread + added_latency)

    # -- output ------------------------------------------------------------------------
    def totals(self) -> dict[tuple[str, str, str], int]:
        """Request counts by (journey, version, code), for tests and logs."""
        with self._lock:
            return {
                (journey, version, code): count
                for (journey, version), series in self._series.items()
                for code, count in series.codes.items()
            }

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            return "".join(self._render_lines())

    def _render_lines(self) -> Iterable[str]:
        yield "# HELP http_requests_total Synthetic requests served, by journey, version, code.\n"
        yield "# TYPE http_requests_total counter\n"
        for (journey, version), series in self._series.items():
            for code, count in series.codes.items():
                labels = f'journey="{journey}",version="{version}",code="{code}"'
                yield f"http_requests_total{{{labels}}} {count}\n"
        yield "# HELP http_request_duration_seconds Synthetic request latency.\n"
        yield "# TYPE http_request_duration_seconds histogram\n"
        for (journey, version), series in self._series.items():
            labels = f'journey="{journey}",version="{version}"'
            for bound, count in zip(BUCKETS, series.buckets, strict=True):
                yield f'http_request_duration_seconds_bucket{{{labels},le="{bound}"}} {count}\n'
            yield (
                f'http_request_duration_seconds_bucket{{{labels},le="+Inf"}} '
                f"{series.latency_count}\n"
            )
            yield f"http_request_duration_seconds_sum{{{labels}}} {series.latency_sum:.6f}\n"
            yield f"http_request_duration_seconds_count{{{labels}}} {series.latency_count}\n"
        provider = f'provider="{self.provider}"'
        gauges = (
            (
                "canarygate_simulator_canary_weight_percent",
                "Canary traffic share the simulator currently applies.",
                self._weight,
            ),
            (
                "canarygate_simulator_weight_source_up",
                "1 if the last read of the traffic object succeeded.",
                1.0 if self._weight_source_up else 0.0,
            ),
            (
                "canarygate_simulator_canary_fault_error_ratio",
                "Injected canary error ratio.",
                self._faults.error_ratio,
            ),
            (
                "canarygate_simulator_canary_fault_added_latency_seconds",
                "Injected canary added latency.",
                self._faults.added_latency,
            ),
            (
                "canarygate_simulator_canary_fault_served_ratio",
                "Part of the canary's weighted share the canary actually serves (1: all of it).",
                self._faults.canary_served_ratio,
            ),
            (
                "canarygate_simulator_rate_per_journey",
                "Configured requests per second per journey.",
                self.config.rate,
            ),
        )
        for name, help_text, value in gauges:
            yield f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"
            yield f"{name}{{{provider}}} {float(value)!r}\n"
        # A blackbox exporter probing the customer journey on each version (its own metric
        # name, as blackbox_exporter's): the canary's fails while the probeFails fault is on.
        yield "# HELP probe_success Synthetic journey probe result, by target version.\n"
        yield "# TYPE probe_success gauge\n"
        for target, failing in (("stable", False), ("canary", self._faults.probe_fails)):
            yield f'probe_success{{target="{target}"}} {0.0 if failing else 1.0!r}\n'
        yield "# HELP canarygate_simulator_seconds_total Seconds of traffic generated.\n"
        yield "# TYPE canarygate_simulator_seconds_total counter\n"
        yield f"canarygate_simulator_seconds_total {self._seconds:.3f}\n"
