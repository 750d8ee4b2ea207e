"""The gate's memory between evaluations, persisted in the CanaryGate status by the shell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from canarygate.core.vocabulary import Phase


@dataclass(frozen=True)
class GateState:
    weight: int = 0
    phase: Phase = Phase.PENDING
    # Consecutive passing evaluations at `weight`; guarded mode needs several per step.
    consecutive_passes: int = 0
    guardrail_failures: Mapping[str, int] = field(default_factory=dict)

    def at_weight(self, weight: int) -> GateState:
        """This state with the canary found at `weight`. Passes count evidence gathered at one
        weight, so a weight that differs from the remembered one starts the count afresh."""
        if weight == self.weight:
            return self
        return replace(self, weight=weight, consecutive_passes=0)
