"""Timing a rollback from the outside, for the demo's summary and the latency benchmark.

Three moments, all on this process's monotonic clock, each taken when the answer that
shows it came back (so each is at most one poll late, never early):

- t_fault: the simulator's POST /faults returned; the canary fails from then on;
- t_visible: the first poll (every 100 ms) at which the guardrail's own PromQL, asked of
  Prometheus, exceeds the guardrail's max: the breach is there for anyone who asks;
- t_rollback: the first poll (every 50 ms) at which the gate's route, read through the
  Kubernetes API, carries 0 % canary (100 % stable).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

QUERY_EVERY = 0.1
ROUTE_EVERY = 0.05
# A canary share this small is 0 % (the route's weights are integers; this only absorbs
# rounding in ratios of weights).
ZERO_WEIGHT = 0.5


@dataclass(frozen=True)
class RollbackTiming:
    t_fault: float
    t_visible: float | None
    t_rollback: float | None

    @property
    def fault_to_visible(self) -> float | None:
        return None if self.t_visible is None else self.t_visible - self.t_fault

    @property
    def visible_to_rollback(self) -> float | None:
        if self.t_visible is None or self.t_rollback is None:
            return None
        return self.t_rollback - self.t_visible

    @property
    def fault_to_rollback(self) -> float | None:
        return None if self.t_rollback is None else self.t_rollback - self.t_fault


def query_value(client: httpx.Client, prometheus_url: str, promql: str) -> float | None:
    """The single value of an instant query now; None when it has none. NaN stays NaN."""
    response = client.get(f"{prometheus_url}/api/v1/query", params={"query": promql})
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def exceeds(value: float | None, maximum: float) -> bool:
    return value is not None and not math.isnan(value) and value > maximum


class RollbackProbe:
    """Started right after the fault goes on; `wait` returns the three moments."""

    def __init__(
        self,
        *,
        prometheus_url: str,
        promql: str,
        maximum: float,
        read_weight: Callable[[], float],
        query_every: float = QUERY_EVERY,
        route_every: float = ROUTE_EVERY,
    ) -> None:
        self.prometheus_url = prometheus_url
        self.promql = promql
        self.maximum = maximum
        self.read_weight = read_weight
        self.query_every = query_every
        self.route_every = route_every
        self.t_fault = 0.0
        self.t_visible: float | None = None
        self.t_rollback: float | None = None
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, t_fault: float) -> None:
        self.t_fault = t_fault
        self._threads = [
            threading.Thread(target=self._watch_prometheus, name="probe-prometheus", daemon=True),
            threading.Thread(target=self._watch_route, name="probe-route", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def wait(self, timeout: float) -> RollbackTiming:
        """Both moments, or None for one not seen within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stop()
        return self.timing()

    def timing(self) -> RollbackTiming:
        return RollbackTiming(self.t_fault, self.t_visible, self.t_rollback)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5.0)

    def _watch_prometheus(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                try:
                    value = query_value(client, self.prometheus_url, self.promql)
                except (httpx.HTTPError, KeyError, ValueError) as error:
                    self.last_error = f"Prometheus: {error}"
                else:
                    if exceeds(value, self.maximum):
                        self.t_visible = time.monotonic()
                        return
                self._stop.wait(self.query_every)

    def _watch_route(self) -> None:
        while not self._stop.is_set():
            try:
                weight = self.read_weight()
            except Exception as error:  # a failed read is one missed poll, not the verdict
                self.last_error = f"route: {type(error).__name__}: {error}"
            else:
                if weight <= ZERO_WEIGHT:
                    self.t_rollback = time.monotonic()
                    return
            self._stop.wait(self.route_every)
