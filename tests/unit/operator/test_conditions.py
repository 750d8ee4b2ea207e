"""MetricsAvailable says why the evidence is missing: unreachable, impossible, stale or silent."""

from __future__ import annotations

from datetime import UTC, datetime

from canarygate.core import GateState, QueryKey, Role, decide
from canarygate.core.freshness import LOOKBACK
from canarygate.core.vocabulary import Phase
from canarygate.operator.conditions import from_decision
from canarygate.operator.vocabulary import ConditionReason, ConditionType
from tests.unit.core.builders import gate, healthy, journey

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
STATE = GateState(weight=25, phase=Phase.PROGRESSING)


def metrics_condition(observations: dict[QueryKey, object]) -> tuple[str, str, str]:
    spec = gate(journey("checkout"), journey("search"))
    decision = decide(spec, STATE, observations, NOW)  # type: ignore[arg-type]
    (update,) = [u for u in from_decision(decision) if u.type == ConditionType.METRICS_AVAILABLE]
    return update.status, update.reason, update.message


def test_fresh_answers_are_available() -> None:
    spec = gate(journey("checkout"), journey("search"))
    fresh = {QueryKey(j.name, Role.FRESHNESS, LOOKBACK): 12.0 for j in spec.journeys}
    status, reason, _ = metrics_condition({**healthy(spec), **fresh})
    assert (status, reason) == ("True", ConditionReason.ANSWERED)


def test_stale_data_is_its_own_reason() -> None:
    spec = gate(journey("checkout"), journey("search"))
    ages = {
        QueryKey("checkout", Role.FRESHNESS, LOOKBACK): 12.0,
        QueryKey("search", Role.FRESHNESS, LOOKBACK): 630.0,
    }
    status, reason, message = metrics_condition({**healthy(spec), **ages})
    assert (status, reason) == ("False", ConditionReason.STALE_DATA)
    assert message == (
        "stale data, treated as silence: journey search: newest sample 10m30s old (maxSampleAge 5m)"
    )
