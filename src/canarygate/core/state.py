"""The gate's memory between evaluations, persisted in the CanaryGate status by the shell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from canarygate.core.vocabulary import Phase


@dataclass(frozen=True)
class GateState:
    weight: int = 0
    phase: Phase = Phase.PENDING
    # Consecutive passing evaluations at `weight`; guarded mode needs several per step.
    consecutive_passes: int = 0
    guardrail_failures: Mapping[str, int] = field(default_factory=dict)
