"""The gate's memory between evaluations, persisted in the CanaryGate status by the shell."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from canarygate.core.checks import CheckRecord
from canarygate.core.durations import Duration
from canarygate.core.vocabulary import Phase


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC to the second, as the status writes times (and as a clearance names a
    red episode)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def clock_time(moment: datetime) -> str:
    """`10:02:13 UTC`: a time of day in a reason."""
    return moment.astimezone(UTC).strftime("%H:%M:%S UTC")


@dataclass(frozen=True)
class FreezeMemory:
    """One red episode of customer health (core.incidents), kept in `status.freeze`."""

    red_since: datetime  # the first red evaluation of the episode
    journeys: tuple[str, ...] = ()  # the critical journeys red at its last red evaluation
    # The first evaluation known out of red since the last red (or unknown) one; None while
    # health is red or unknown. The cooldown runs from here.
    clear_since: datetime | None = None

    @property
    def key(self) -> str:
        """What a clearance names: the episode's start."""
        return timestamp(self.red_since)

    def cooldown_until(self, cooldown: Duration) -> datetime | None:
        if self.clear_since is None:
            return None
        return self.clear_since + timedelta(milliseconds=cooldown.milliseconds)

    def what(self) -> str:
        """`checkout red since 10:02:13 UTC`."""
        names = ", ".join(self.journeys) or "customer health"
        return f"{names} red since {clock_time(self.red_since)}"


@dataclass(frozen=True)
class GateState:
    weight: int = 0
    phase: Phase = Phase.PENDING
    # Consecutive passing evaluations at `weight`; guarded mode needs several per step.
    consecutive_passes: int = 0
    guardrail_failures: Mapping[str, int] = field(default_factory=dict)
    # The red episode in progress, if any: a freeze lifts only after its cooldown.
    freeze: FreezeMemory | None = None
    # Each check's last judged result (a check not due now keeps it).
    checks: Mapping[str, CheckRecord] = field(default_factory=dict)

    def at_weight(self, weight: int) -> GateState:
        """This state with the canary found at `weight`. Passes count evidence gathered at one
        weight, so a weight that differs from the remembered one starts the count afresh."""
        if weight == self.weight:
            return self
        return replace(self, weight=weight, consecutive_passes=0)
