"""Faults injected into the canary's synthetic traffic, switchable at run time."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class InvalidFaults(ValueError):
    """A /faults request body that cannot be applied; the message says why."""


@dataclass(frozen=True)
class Faults:
    """`error_ratio` of canary requests fail with HTTP 500; each canary request takes
    `added_latency` seconds more. `fleet_error_ratio` of every request, stable and canary,
    fails (an incident not caused by the canary). `canary_served_ratio` is the part of the
    requests its weight sends to the canary that the canary actually serves, the rest going
    to stable (pods that crash-loop or are not ready, session affinity pinning clients away):
    at weight 25 and 0.1 the canary serves 2.5 % of requests. `journeys` limits all four to
    those journeys (empty: all). `probe_fails`: the synthetic blackbox probe of the canary
    (`probe_success{target="canary"}`) reports failure, as a probe of the customer journey
    against a broken canary would."""

    error_ratio: float = 0.0
    added_latency: float = 0.0
    journeys: frozenset[str] = field(default_factory=frozenset)
    fleet_error_ratio: float = 0.0
    probe_fails: bool = False
    canary_served_ratio: float = 1.0

    def applies_to(self, journey: str) -> bool:
        return not self.journeys or journey in self.journeys

    def to_json(self) -> dict[str, Any]:
        return {
            "errorRatio": self.error_ratio,
            "addedLatencySeconds": self.added_latency,
            "journeys": sorted(self.journeys),
            "fleetErrorRatio": self.fleet_error_ratio,
            "probeFails": self.probe_fails,
            "canaryServedRatio": self.canary_served_ratio,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Faults:
        """Parse {"errorRatio": 0.2, "addedLatencySeconds": 0.3, "journeys": ["checkout"],
        "canaryServedRatio": 0.1, "probeFails": true}; every key is optional and an empty body
        clears all faults."""
        known = {
            "errorRatio", "addedLatencySeconds", "journeys", "fleetErrorRatio", "probeFails",
            "canaryServedRatio",
        }  # fmt: skip
        unknown = set(body) - known
        if unknown:
            raise InvalidFaults(f"unknown fault keys: {sorted(unknown)}")
        error_ratio = _number(body, "errorRatio")
        fleet_error_ratio = _number(body, "fleetErrorRatio")
        added_latency = _number(body, "addedLatencySeconds")
        served_ratio = _number(body, "canaryServedRatio", 1.0)
        for key, ratio in (
            ("errorRatio", error_ratio),
            ("fleetErrorRatio", fleet_error_ratio),
            ("canaryServedRatio", served_ratio),
        ):
            if not 0.0 <= ratio <= 1.0:
                raise InvalidFaults(f"{key} must be within [0, 1], got {ratio}")
        if added_latency < 0.0:
            raise InvalidFaults(f"addedLatencySeconds must be >= 0, got {added_latency}")
        journeys = body.get("journeys", [])
        if not isinstance(journeys, list) or not all(isinstance(j, str) for j in journeys):
            raise InvalidFaults("journeys must be a list of journey names")
        probe_fails = body.get("probeFails", False)
        if not isinstance(probe_fails, bool):
            raise InvalidFaults(f"probeFails must be true or false, got {probe_fails!r}")
        return cls(
            error_ratio,
            added_latency,
            frozenset(journeys),
            fleet_error_ratio,
            probe_fails,
            served_ratio,
        )


def _number(body: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFaults(f"{key} must be a number, got {value!r}")
    return float(value)
