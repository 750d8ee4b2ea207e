"""What the operator reports about itself: Prometheus metrics and decision logs.

One registry per operator (not the process-global one), so tests and benchmarks can run
several. Names follow Prometheus conventions: `canarygate_` prefix, base units, `_total` for
counters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from canarygate.core.decisions import Decision

if TYPE_CHECKING:
    from canarygate.evaluating import ClientPool, TickReport
    from canarygate.kube import ApiStats
    from canarygate.operator.records import GateRecord

log = logging.getLogger("canarygate.decisions")

_TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Observer:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "canarygate_decisions", "Decisions made, by action and mode.", ["action", "mode"],
            registry=r,
        )  # fmt: skip
        self.gates = Gauge("canarygate_gates", "Known CanaryGates by phase.", ["phase"], registry=r)
        self.gate_weight = Gauge(
            "canarygate_gate_weight_percent",
            "Canary traffic percent of each gate, as recorded in its status.",
            ["namespace", "name"],
            registry=r,
        )
        self.tick_gates = Histogram(
            "canarygate_tick_evaluation_seconds",
            "Time to evaluate one batch of gates against one Prometheus.",
            buckets=_TICK_BUCKETS,
            registry=r,
        )
        self.lag = Gauge(
            "canarygate_schedule_lag_seconds",
            "How late the last tick started after its earliest gate was due.",
            registry=r,
        )
        self.due = Counter(
            "canarygate_gates_due", "Gates taken by a tick, summed over ticks.", registry=r
        )
        self.queries_planned = Counter(
            "canarygate_queries_planned", "Queries the gates asked for.", registry=r
        )
        self.queries_distinct = Counter(
            "canarygate_queries_distinct",
            "Distinct requests after deduplication and packing.",
            registry=r,
        )
        self.http_requests = Counter(
            "canarygate_prometheus_requests",
            "HTTP requests sent to Prometheus, retries included.",
            registry=r,
        )
        self.gates_by_health = Gauge(
            "canarygate_gates_by_health",
            "Known CanaryGates by the customer health in their status.",
            ["health"],
            registry=r,
        )
        self.leader = Gauge(
            "canarygate_leader",
            "1 while this replica is the active one (always 1 without leader election).",
            registry=r,
        )
        self.leader.set(1)
        self._phases: dict[str, int] = {}
        self._healths: dict[str, int] = {}

    def leading(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def attach(self, api_stats: Callable[[], ApiStats], pool: Callable[[], ClientPool]) -> None:
        """Export the Kubernetes API's and the Prometheus clients' own counters."""
        self.registry.register(_StatsCollector(api_stats, pool))

    def gate_changed(self, old: GateRecord | None, new: GateRecord | None) -> None:
        for record, step in ((old, -1), (new, 1)):
            if record is None:
                continue
            phase = str(record.state.phase) if record.started else "Unstarted"
            self._phases[phase] = self._phases.get(phase, 0) + step
            self.gates.labels(phase=phase).set(self._phases[phase])
            health = record.health or "none"
            self._healths[health] = self._healths.get(health, 0) + step
            self.gates_by_health.labels(health=health).set(self._healths[health])
        if new is not None:
            self.gate_weight.labels(new.key.namespace, new.key.name).set(new.state.weight)
        elif old is not None:
            self.gate_weight.remove(old.key.namespace, old.key.name)

    def tick_started(self, lag_seconds: float, gates: int) -> None:
        self.lag.set(lag_seconds)
        self.due.inc(gates)

    def evaluated(self, report: TickReport, seconds: float) -> None:
        self.tick_gates.observe(seconds)
        self.queries_planned.inc(report.requested)
        self.queries_distinct.inc(report.distinct)
        self.http_requests.inc(report.http_requests)

    def decided(self, record: GateRecord, decision: Decision) -> None:
        self.decisions.labels(action=str(decision.action), mode=str(decision.mode)).inc()
        # Holds repeat every interval on every gate: only moves are worth a line by default.
        level = logging.DEBUG if decision.weight_next == decision.weight_current else logging.INFO
        if not log.isEnabledFor(level):
            return  # building the line's fields costs more than the decision's counter
        log.log(
            level,
            "%s %s: %s",
            record.key,
            decision.action,
            decision.reasons[0].message if decision.reasons else "",
            extra={
                "gate": str(record.key),
                "revision": record.revision,
                "action": str(decision.action),
                "health": str(decision.health),
                "risk": str(decision.risk.risk),
                "mode": str(decision.mode),
                "weight": decision.weight_current,
                "weight_next": decision.weight_next,
            },
        )


class _StatsCollector(Collector):
    """Reads the clients' counters at scrape time (no bookkeeping on the hot path)."""

    def __init__(self, api_stats: Callable[[], ApiStats], pool: Callable[[], ClientPool]):
        self._api_stats = api_stats
        self._pool = pool

    def collect(self) -> Iterator[Metric]:
        stats = self._api_stats()
        requests = CounterMetricFamily(
            "canarygate_kube_requests", "Kubernetes API requests, by verb.", labels=["verb"]
        )
        for verb, count in sorted(stats.requests.items()):
            requests.add_metric([verb], count)
        yield requests
        errors = CounterMetricFamily(
            "canarygate_kube_errors", "Failed Kubernetes API requests, by kind.", labels=["kind"]
        )
        for kind, count in sorted(stats.errors.items()):
            errors.add_metric([kind], count)
        yield errors
        yield CounterMetricFamily(
            "canarygate_kube_conflicts",
            "Writes that lost an optimistic-concurrency race (409) and were retried.",
            value=stats.conflicts,
        )
        yield CounterMetricFamily(
            "canarygate_kube_events_failed", "Events that could not be posted.",
            value=stats.events_failed,
        )  # fmt: skip
        failures = CounterMetricFamily(
            "canarygate_prometheus_query_failures",
            "Prometheus queries that produced no value, by kind and server.",
            labels=["kind", "prometheus"],
        )
        breakers = GaugeMetricFamily(
            "canarygate_prometheus_breaker_opened",
            "Times the circuit breaker opened, per Prometheus.",
            labels=["prometheus"],
        )
        for client in self._pool().clients:
            address = client.config.address
            for kind, count in sorted(client.stats.failures.items()):
                failures.add_metric([kind, address], count)
            breakers.add_metric([address], client.stats.breaker_opened)
        yield failures
        yield breakers
