"""What the operator reports about itself: Prometheus metrics and decision logs.

One registry per operator (not the process-global one), so tests and benchmarks can run
several. Names follow Prometheus conventions: `canarygate_` prefix, base units, `_total` for
counters.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from canarygate.core.decisions import Decision

if TYPE_CHECKING:
    from canarygate.evaluating import TickReport
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
        self._phases: dict[str, int] = {}

    def gate_changed(self, old: GateRecord | None, new: GateRecord | None) -> None:
        for record, step in ((old, -1), (new, 1)):
            if record is None:
                continue
            phase = str(record.state.phase) if record.started else "Unstarted"
            self._phases[phase] = self._phases.get(phase, 0) + step
            self.gates.labels(phase=phase).set(self._phases[phase])
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
