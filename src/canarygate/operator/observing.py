"""What the operator reports about itself: Prometheus metrics and decision logs.

One registry per operator (not the process-global one), so tests and benchmarks can run
several. Names follow Prometheus conventions: `canarygate_` prefix, base units (seconds,
ratios rather than percents), `_total` for counters, dimensions as labels. The `_created`
series prometheus_client adds to every counter and histogram are turned off: they double the
series and nothing here needs them.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from canarygate.core.checks import CheckVerdict
from canarygate.core.decisions import Decision
from canarygate.core.vocabulary import Action, Health, Verdict

if TYPE_CHECKING:
    from canarygate.evaluating import ClientPool, TickReport
    from canarygate.kube import ApiStats
    from canarygate.operator.records import GateRecord

log = logging.getLogger("canarygate.decisions")

_TICK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_BREACH_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
# Exposure between two evaluations counts at most this many intervals (a gate not seen for
# longer, during a backoff or an outage of the operator, is not counted for the gap).
_EXPOSURE_INTERVALS = 3
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Observer:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # process-wide; our choice
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.decisions = Counter(
            "canarygate_decisions", "Decisions made, by action and mode.", ["action", "mode"],
            registry=r,
        )  # fmt: skip
        self.gates = Gauge(
            "canarygate_gates",
            "Known CanaryGates by phase and by the customer health in their status.",
            ["phase", "health"],
            registry=r,
        )
        self.gate_weight = Gauge(
            "canarygate_gate_weight_ratio",
            "Canary share of each gate's traffic as recorded in its status (weight / 100).",
            ["namespace", "name"],
            registry=r,
        )
        self.tick_duration = Histogram(
            "canarygate_tick_duration_seconds",
            "Time from a tick's start until every gate it took has made its transition.",
            buckets=_TICK_BUCKETS,
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
        self.lags = Histogram(
            "canarygate_tick_lag_seconds",
            "How late each tick started after its earliest gate was due.",
            buckets=_TICK_BUCKETS,
            registry=r,
        )
        self.due = Counter(
            "canarygate_gates_due", "Gates taken by a tick, summed over ticks.", registry=r
        )
        self.overruns = Counter(
            "canarygate_evaluations_overrun",
            "Gates whose evaluation and transition outlasted their interval, so that their next "
            "evaluation starts late.",
            registry=r,
        )
        self.queries_planned = Counter(
            "canarygate_queries_planned", "Queries the gates asked for.", registry=r
        )
        self.queries_distinct = Counter(
            "canarygate_queries_distinct",
            "Requests left to send after deduplication and packing (one per distinct query "
            "or packed group).",
            registry=r,
        )
        self.queries_cached = Counter(
            "canarygate_queries_cached",
            "Slow-window queries (1d and longer) answered from an earlier reading instead of "
            "sent, where that could not change the decision.",
            registry=r,
        )
        self.windows_reread = Counter(
            "canarygate_slow_windows_reread",
            "Slow windows read again within their reading's lifetime, because its bound could "
            "not rule out a different decision (near a threshold, or moving fast).",
            registry=r,
        )
        self.leader = Gauge(
            "canarygate_leader",
            "1 while this replica is the active one (always 1 without leader election).",
            registry=r,
        )
        self.leader.set(1)
        # Release safety: how long canaries stayed exposed to trouble, how fast it was acted
        # on, and what people overrode.
        self.exposure_at_risk = Counter(
            "canarygate_exposure_at_risk_seconds",
            "Seconds a gate's canary had traffic while customer health was red or a guardrail "
            "or check failed (counted per evaluation, since the previous one).",
            ["namespace", "name"],
            registry=r,
        )
        self.breach_to_action = Histogram(
            "canarygate_breach_to_action_seconds",
            "From the first evaluation that saw a breach on an exposed canary (red health, a "
            "failing guardrail or check) to all traffic on stable, by what sent it there.",
            ["action"],
            buckets=_BREACH_BUCKETS,
            registry=r,
        )
        self.rollbacks = Counter(
            "canarygate_rollbacks",
            "Rollbacks, by gate and by what decided them (decision or abort).",
            ["namespace", "name", "trigger"],
            registry=r,
        )
        self.forced_promotions = Counter(
            "canarygate_forced_promotions",
            "Promotions forced by a person (canarygate.io/promote), by gate.",
            ["namespace", "name"],
            registry=r,
        )
        # The verdict API (with --verdict-address).
        self.verdicts = Counter(
            "canarygate_verdicts",
            "Verdicts the verdict API answered, by verdict and caller.",
            ["verdict", "caller"],
            registry=r,
        )
        self.verdict_requests = Counter(
            "canarygate_verdict_requests",
            "Requests to the verdict API, by HTTP status code.",
            ["code"],
            registry=r,
        )
        self.verdict_duration = Histogram(
            "canarygate_verdict_request_duration_seconds",
            "Time to answer one verdict API request, from its arrival to its answer.",
            buckets=_REQUEST_BUCKETS,
            registry=r,
        )
        self.verdict_evaluations = Counter(
            "canarygate_verdict_evaluations",
            "Gates evaluated at once for the verdict API (no fresh evaluation to answer from), "
            "after coalescing.",
            registry=r,
        )
        self._gates: dict[tuple[str, str], int] = {}
        # Per gate (namespace, name), monotonic seconds: its last evaluation, and when this
        # replica first saw its canary exposed to a breach in the current rollout.
        self._evaluated: dict[tuple[str, str], float] = {}
        self._breach_seen: dict[tuple[str, str], float] = {}

    def leading(self, leading: bool) -> None:
        self.leader.set(1 if leading else 0)

    def attach(self, api_stats: Callable[[], ApiStats], pool: Callable[[], ClientPool]) -> None:
        """Export the Kubernetes API's and the Prometheus clients' own counters."""
        self.registry.register(_StatsCollector(api_stats, pool))

    def gate_changed(self, old: GateRecord | None, new: GateRecord | None) -> None:
        for record, step in ((old, -1), (new, 1)):
            if record is None:
                continue
            cell = (str(record.state.phase) if record.started else "Unstarted",
                    record.health or "none")  # fmt: skip
            self._gates[cell] = self._gates.get(cell, 0) + step
            self.gates.labels(*cell).set(self._gates[cell])
        if new is not None:
            self.gate_weight.labels(new.key.namespace, new.key.name).set(new.state.weight / 100)
        elif old is not None:
            self.gate_weight.remove(old.key.namespace, old.key.name)
            self._forget_gate(old.key.namespace, old.key.name)

    def _forget_gate(self, namespace: str, name: str) -> None:
        """A deleted gate's series go with it (they are per gate)."""
        self._evaluated.pop((namespace, name), None)
        self._breach_seen.pop((namespace, name), None)
        for counter in (self.exposure_at_risk, self.forced_promotions):
            with contextlib.suppress(KeyError):
                counter.remove(namespace, name)
        for trigger in ("decision", "abort"):
            with contextlib.suppress(KeyError):
                self.rollbacks.remove(namespace, name, trigger)

    def before_transition(self, record: GateRecord, decision: Decision) -> None:
        """Exposure at risk since the gate's last evaluation, and when a breach was first seen
        (for breach-to-action); an observing gate moves no traffic and exposes nobody."""
        now = time.monotonic()
        gate = (record.key.namespace, record.key.name)
        mark = self._evaluated.get(gate)
        self._evaluated[gate] = now
        if record.observing:
            return
        breach = decision.weight_current > 0 and _breached(decision)
        if breach and mark is not None:
            gap = min(now - mark, _EXPOSURE_INTERVALS * record.interval_seconds)
            self.exposure_at_risk.labels(*gate).inc(gap)
        if breach:
            self._breach_seen.setdefault(gate, now)
        elif decision.action is not Action.ROLLBACK:
            self._breach_seen.pop(gate, None)

    def rolled_back(self, record: GateRecord, trigger: str) -> None:
        """All traffic is on stable: count it, and time it from the breach first seen."""
        gate = (record.key.namespace, record.key.name)
        self.rollbacks.labels(*gate, trigger).inc()
        seen = self._breach_seen.pop(gate, None)
        if seen is not None:
            action = "abort" if trigger == "abort" else "rollback"
            self.breach_to_action.labels(action).observe(time.monotonic() - seen)

    def force_promoted(self, record: GateRecord) -> None:
        self.forced_promotions.labels(record.key.namespace, record.key.name).inc()

    def tick_finished(self, seconds: float) -> None:
        self.tick_duration.observe(seconds)

    def tick_started(self, lag_seconds: float, gates: int) -> None:
        self.lag.set(lag_seconds)
        self.lags.observe(lag_seconds)
        self.due.inc(gates)

    def overran(self) -> None:
        self.overruns.inc()

    def evaluated(self, report: TickReport, seconds: float) -> None:
        self.tick_gates.observe(seconds)
        self.queries_planned.inc(report.requested)
        self.queries_distinct.inc(report.distinct)
        self.queries_cached.inc(report.cached)
        self.windows_reread.inc(report.reread)

    def decided(self, record: GateRecord, decision: Decision, *, held: bool = False) -> None:
        """Count and log a decision as the gate took it: a move that waited (for a person's
        approval, for the routing) is a hold."""
        action = Action.HOLD if held else decision.action
        self.decisions.labels(action=str(action), mode=str(decision.mode)).inc()
        # Holds repeat every interval on every gate: only moves are worth a line by default.
        moves = action is not Action.HOLD and decision.weight_next != decision.weight_current
        level = logging.INFO if moves else logging.DEBUG
        if not log.isEnabledFor(level):
            return  # building the line's fields costs more than the decision's counter
        reason = decision.reasons[0].message if decision.reasons else ""
        log.log(
            level,
            "%s %s: %s%s",
            record.key,
            action,
            reason,
            f" (waiting to {decision.action} to {decision.weight_next}%)" if held else "",
            extra={
                "gate": str(record.key),
                "revision": record.revision,
                "action": str(action),
                "health": str(decision.health),
                "risk": str(decision.risk.risk),
                "mode": str(decision.mode),
                "weight": decision.weight_current,
                "weight_next": decision.weight_current if held else decision.weight_next,
            },
        )


def _breached(decision: Decision) -> bool:
    return (
        decision.health is Health.RED
        or any(g.verdict is Verdict.FAIL for g in decision.guardrails)
        or any(c.ran and c.verdict is CheckVerdict.FAIL for c in decision.checks)
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
        yield CounterMetricFamily(
            "canarygate_kube_relists",
            "Complete lists of CanaryGates after the first (a watch expired: 410 Gone).",
            value=stats.relists,
        )
        yield CounterMetricFamily(
            "canarygate_kube_watch_restarts",
            "Watches of CanaryGates re-opened after an error.",
            value=stats.watch_restarts,
        )
        failures = CounterMetricFamily(
            "canarygate_prometheus_query_failures",
            "Prometheus queries that produced no value, by kind and server.",
            labels=["kind", "prometheus"],
        )
        breakers = CounterMetricFamily(
            "canarygate_prometheus_breaker_opened",
            "Times the circuit breaker opened, per Prometheus.",
            labels=["prometheus"],
        )
        sent = CounterMetricFamily(
            "canarygate_prometheus_requests",
            "HTTP requests sent to Prometheus, retries included.",
            value=sum(client.stats.requests for client in self._pool().clients),
        )
        for client in self._pool().clients:
            address = client.config.address
            for kind, count in sorted(client.stats.failures.items()):
                failures.add_metric([kind, address], count)
            breakers.add_metric([address], client.stats.breaker_opened)
        yield sent
        yield failures
        yield breakers
