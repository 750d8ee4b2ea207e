"""The operator's own metrics: every family the issue asks for, named by Prometheus'
conventions, with the values the operator's events give them, and all in docs/operations.md
(tests/unit/test_docs_pages.py holds its table to the exported families)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from canarygate.core import decide
from canarygate.evaluating import ClientPool, Connection, TickReport, config_for
from canarygate.kube import ApiStats
from canarygate.operator.observing import Observer
from canarygate.operator.records import record_from

from .harness import gate_body, healthy

UNITS = ("_seconds", "_ratio", "_total", "_info")
# Gauges that count things (no unit): a count is its own unit, as in `up` or `*_count`.
COUNTS = {"canarygate_gates", "canarygate_leader"}


def started(phase: str, *, weight: int) -> dict[str, object]:
    """A gate's status once its rollout started (its original routing saved)."""
    return {
        "phase": phase,
        "health": "green",
        "weight": weight,
        "revision": "v2",
        "traffic": {"original": {"weights": []}},
    }


def observed() -> tuple[Observer, ApiStats, ClientPool]:
    observer = Observer()
    stats = ApiStats()
    pool = ClientPool()
    observer.attach(lambda: stats, lambda: pool)
    return observer, stats, pool


def families(observer: Observer) -> dict[str, Metric]:
    text = generate_latest(observer.registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def value(observer: Observer, sample: str, **labels: str) -> float:
    for family in families(observer).values():
        for s in family.samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {sample} {labels}")


def test_every_family_follows_the_naming_conventions() -> None:
    observer, _, _ = observed()
    found = families(observer)
    assert found
    for name, family in found.items():
        assert re.fullmatch(r"canarygate_[a-z][a-z0-9_]*", name), name
        assert "_by_" not in name, f"{name}: a dimension is a label, not a name"
        if family.type == "counter":
            text = generate_latest(observer.registry).decode()
            assert f"# TYPE {name}_total counter" in text or f"# TYPE {name} counter" in text
        elif family.type == "histogram":
            assert name.endswith("_seconds"), name
        elif family.type == "gauge":
            assert name.endswith(UNITS) or name in COUNTS, f"{name}: a gauge names its unit"
        assert not re.search(r"_(percent|milliseconds|ms)\b", name), f"{name}: base units"


async def test_the_issue_s_families_carry_what_the_operator_saw() -> None:
    observer, stats, pool = observed()
    body = gate_body()
    body["status"] = started("Progressing", weight=25)
    record = record_from(body)
    observer.gate_changed(None, record)
    at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert record.spec is not None
    decision = decide(record.spec, record.state, healthy(record), at)
    observer.decided(record, decision)
    observer.decided(record, decision)
    observer.tick_started(0.4, 3)
    report = TickReport((decision,), requested=12, distinct=2, http_requests=3, cached=6, reread=1)
    observer.evaluated(report, 0.2)
    observer.tick_finished(0.7)
    observer.overran()
    stats.requests.update({"patch": 4, "update": 1, "get": 9})
    stats.conflicts = 1
    stats.errors["Conflict"] = 1
    client = pool.client_for(config_for("http://prometheus:9090", None, Connection()))
    client.stats.requests = 3  # read from the clients: ticks may overlap
    client.stats.failures["refused"] = 2
    client.stats.breaker_opened = 1

    action, mode = str(decision.action), str(decision.mode)
    assert value(observer, "canarygate_decisions_total", action=action, mode=mode) == 2
    assert value(observer, "canarygate_gates", phase="Progressing", health="green") == 1
    assert value(observer, "canarygate_gate_weight_ratio", namespace="shop", name="checkout") == (
        0.25
    )
    assert value(observer, "canarygate_tick_duration_seconds_count") == 1
    assert value(observer, "canarygate_tick_duration_seconds_sum") == 0.7
    assert value(observer, "canarygate_tick_evaluation_seconds_count") == 1
    assert value(observer, "canarygate_schedule_lag_seconds") == 0.4
    assert value(observer, "canarygate_tick_lag_seconds_count") == 1
    assert value(observer, "canarygate_tick_lag_seconds_sum") == 0.4
    assert value(observer, "canarygate_gates_due_total") == 3
    assert value(observer, "canarygate_evaluations_overrun_total") == 1
    assert value(observer, "canarygate_queries_planned_total") == 12
    assert value(observer, "canarygate_queries_distinct_total") == 2
    assert value(observer, "canarygate_prometheus_requests_total") == 3
    assert value(observer, "canarygate_queries_cached_total") == 6
    assert value(observer, "canarygate_slow_windows_reread_total") == 1
    assert value(observer, "canarygate_prometheus_query_failures_total", kind="refused") == 2
    assert value(observer, "canarygate_prometheus_breaker_opened_total") == 1
    assert value(observer, "canarygate_kube_requests_total", verb="patch") == 4
    assert value(observer, "canarygate_kube_conflicts_total") == 1
    assert value(observer, "canarygate_kube_errors_total", kind="Conflict") == 1
    assert value(observer, "canarygate_leader") == 1
    await pool.aclose()


def test_a_gate_that_changes_moves_between_cells_and_a_deleted_one_leaves_no_series() -> None:
    observer, _, _ = observed()
    body = gate_body()
    body["status"] = started("Progressing", weight=10)
    first = record_from(body)
    observer.gate_changed(None, first)
    body["status"] = started("WaitingForApproval", weight=10)
    second = record_from(body)
    observer.gate_changed(first, second)
    assert value(observer, "canarygate_gates", phase="Progressing", health="green") == 0
    assert value(observer, "canarygate_gates", phase="WaitingForApproval", health="green") == 1
    observer.gate_changed(second, None)
    assert value(observer, "canarygate_gates", phase="WaitingForApproval") == 0
    samples = families(observer)["canarygate_gate_weight_ratio"].samples
    assert samples == []


def test_a_standby_says_so() -> None:
    observer, _, _ = observed()
    observer.leading(False)
    assert value(observer, "canarygate_leader") == 0


async def test_a_move_that_waits_is_counted_and_logged_as_a_hold(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observer, _, pool = observed()
    body = gate_body()
    body["status"] = started("Progressing", weight=10)
    record = record_from(body)
    assert record.spec is not None
    decision = decide(
        record.spec, record.state, healthy(record), datetime(2026, 11, 25, tzinfo=UTC)
    )
    assert str(decision.action) == "advance"
    with caplog.at_level(logging.DEBUG, logger="canarygate.decisions"):
        observer.decided(record, decision, held=True)
        observer.decided(record, decision)
    mode = str(decision.mode)
    assert value(observer, "canarygate_decisions_total", action="hold", mode=mode) == 1
    assert value(observer, "canarygate_decisions_total", action="advance", mode=mode) == 1
    waited, moved = caplog.records
    assert (waited.levelno, waited.action, waited.weight_next) == (logging.DEBUG, "hold", 10)  # type: ignore[attr-defined]
    assert "waiting to advance to 50%" in waited.getMessage()
    assert (moved.levelno, moved.action, moved.weight_next) == (logging.INFO, "advance", 50)  # type: ignore[attr-defined]
    assert (moved.gate, moved.revision) == ("shop/checkout", "v2")  # type: ignore[attr-defined]
    await pool.aclose()


def test_release_safety_exposure_breach_to_action_and_overrides_per_gate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Exposure counts the time since the last evaluation while a canary with traffic is in
    breach; breach-to-action runs from the first evaluation that saw it to the rollback."""
    observer, _, _ = observed()
    clock = iter([100.0, 110.0, 125.0, 131.0, 200.0, 210.0])
    monkeypatch.setattr("canarygate.operator.observing.time.monotonic", lambda: next(clock))
    body = gate_body()
    body["metadata"]["namespace"] = "shop"
    body["status"] = started("Progressing", weight=10)
    record = record_from(body)
    assert record.spec is not None
    at = datetime(2026, 11, 25, 12, tzinfo=UTC)
    fine = decide(record.spec, record.state, healthy(record), at)
    failing = decide(
        record.spec,
        record.state,
        {k: (0.5 if k.role.value == "canary" else v) for k, v in healthy(record).items()},
        at,
    )
    observer.before_transition(record, fine)  # 100: the first evaluation, nothing counted
    observer.before_transition(record, failing)  # 110: breach seen, 10 s exposed
    observer.before_transition(record, failing)  # 125: 15 s more
    observer.rolled_back(record, "decision")  # 131: 21 s after the breach was first seen
    gate = {"namespace": "shop", "name": "checkout"}
    assert value(observer, "canarygate_exposure_at_risk_seconds_total", **gate) == 25.0
    assert value(observer, "canarygate_breach_to_action_seconds_sum", action="rollback") == 21.0
    assert value(observer, "canarygate_rollbacks_total", **gate, trigger="decision") == 1.0
    observer.force_promoted(record)
    assert value(observer, "canarygate_forced_promotions_total", **gate) == 1.0
    # A breach that ends without a rollback is not timed; an abort without a breach neither.
    observer.before_transition(record, failing)  # 200
    observer.before_transition(record, fine)  # 210: over
    observer.rolled_back(record, "abort")
    assert value(observer, "canarygate_breach_to_action_seconds_count", action="rollback") == 1.0
    assert value(observer, "canarygate_rollbacks_total", **gate, trigger="abort") == 1.0
    observer.gate_changed(record, None)  # deleted: its series go
    text = generate_latest(observer.registry).decode()
    assert 'name="checkout"' not in text
