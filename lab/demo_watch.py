"""One readable line per transition of the demo's gates, from what the operator records about
them: `status.history[]` (a rollout starting, advance, promote, rollback) and the Events that
mark a hold starting or changing character (HoldStarted, Frozen, QueryError...).

The moves are read from the history rather than from their Events because a history entry
carries the weights and the health; the Events of those moves are then skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Events whose transition is already a history entry.
MOVES = frozenset({"RolloutStarted", "Advanced", "Promoted", "RolledBack"})
# How an Event's reason reads in the action column.
EVENT_ACTIONS = {
    "HoldStarted": "hold",
    "Frozen": "freeze",
    "Unfrozen": "unfreeze",
    "QueryError": "hold",
    "PrometheusUnavailable": "hold",
    "InvalidSpec": "invalid",
    "TrafficError": "error",
    "WeightMismatch": "mismatch",
    "IntentAbandoned": "abandon",
    "IntentCompleted": "complete",
    "TrafficRestored": "restore",
}
HEADER = f"{'time':<8}  {'gate':<9} {'action':<9} {'weight':<11} {'health':<7} reason"


@dataclass(frozen=True)
class Transition:
    at: datetime
    gate: str
    action: str
    weight: str
    health: str
    reason: str

    def line(self) -> str:
        clock = self.at.astimezone().strftime("%H:%M:%S")
        return (
            f"{clock:<8}  {self.gate:<9} {self.action:<9} {self.weight:<11} "
            f"{self.health:<7} {self.reason}"
        )


def parse_time(text: object) -> datetime:
    """An RFC 3339 time from the API server (seconds or microseconds, `Z` or an offset)."""
    if not isinstance(text, str) or not text:
        return datetime.now(UTC)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(UTC)


def _percent(value: object) -> str:
    return f"{value}%" if isinstance(value, int | float) else "?"


def from_history(gate: str, entry: Mapping[str, Any]) -> Transition:
    reason = str(entry.get("reason") or "")
    action = str(entry.get("action") or "?")
    if action == "hold" and reason.startswith("rollout of revision"):
        action = "start"  # the start entry is recorded as a hold at 0 %
    moved = f"{_percent(entry.get('weightFrom'))} -> {_percent(entry.get('weightTo'))}"
    return Transition(
        at=parse_time(entry.get("time")),
        gate=gate,
        action=action,
        weight=moved,
        health=str(entry.get("health") or "-"),
        reason=reason,
    )


def from_event(event: Mapping[str, Any], status: Mapping[str, Any]) -> Transition:
    """An Event of a hold, with the weight and health of the status it was posted with."""
    obj = event.get("involvedObject") or {}
    reason = str(event.get("reason") or "")
    return Transition(
        at=parse_time(event.get("eventTime") or event.get("lastTimestamp")),
        gate=str(obj.get("name") or "?"),
        action=EVENT_ACTIONS.get(reason, reason or "?"),
        weight=_percent(status.get("weight")),
        health=str(status.get("health") or "-"),
        reason=str(event.get("message") or ""),
    )


class TransitionWatcher:
    """Feed it the gates and Events at each poll; it returns the transitions not yet shown,
    oldest first."""

    def __init__(self) -> None:
        self._seen_history: set[tuple[str, str]] = set()
        self._seen_events: set[str] = set()

    def update(
        self, gates: Mapping[str, Mapping[str, Any]], events: Iterable[Mapping[str, Any]]
    ) -> list[Transition]:
        found: list[Transition] = []
        for name, body in gates.items():
            for entry in (body.get("status") or {}).get("history") or []:
                key = (name, repr(sorted(entry.items())))
                if key not in self._seen_history:
                    self._seen_history.add(key)
                    found.append(from_history(name, entry))
        for event in events:
            event_name = str((event.get("metadata") or {}).get("name") or "")
            if event_name in self._seen_events:
                continue
            self._seen_events.add(event_name)
            if event.get("reason") in MOVES:
                continue
            gate = str((event.get("involvedObject") or {}).get("name") or "")
            status = (gates.get(gate) or {}).get("status") or {}
            found.append(from_event(event, status))
        return sorted(found, key=lambda t: t.at)
