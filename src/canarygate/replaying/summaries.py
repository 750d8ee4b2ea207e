"""What a replay says at a glance: the timeline of changes (a line only where the action, the
weights, the health, the mode or the deciding reason changed), the time spent in each health
and mode, and where the gate moved traffic or froze.

Each evaluation point stands for one step of time, from its instant to the next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from canarygate.core.decisions import Decision, ReasonCode
from canarygate.core.vocabulary import Action, Mode

MOVES = frozenset({Action.ADVANCE, Action.PROMOTE, Action.ROLLBACK})


@dataclass(frozen=True)
class Run:
    """Consecutive points [first, last] that share something (a signature, a mode...)."""

    first: int
    last: int

    @property
    def points(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True)
class Change:
    """A timeline line: the decision at `run.first`, the same until `run.last`."""

    run: Run
    decision: Decision


@dataclass(frozen=True)
class Summary:
    step_seconds: float
    points: int
    changes: tuple[Change, ...]
    seconds_in_health: dict[str, float]
    seconds_in_mode: dict[str, float]
    actions: dict[str, int]
    moves: tuple[Decision, ...]  # every advance, promote and rollback, in order
    frozen: tuple[Run, ...]  # runs of mode freeze
    stale_points: int  # points where some journey's data was stale

    @property
    def final(self) -> Decision:
        return self.changes[-1].decision


# With the weight held (`fixed:N`), passing evaluations that would advance and those still
# counting consecutive passes are one state: "passing".
_PASSING = frozenset({ReasonCode.ADVANCE, ReasonCode.PROMOTE, ReasonCode.PASSES_NEEDED})


def signature(decision: Decision, *, held: bool = False) -> tuple[object, ...]:
    first = decision.reasons[0].code if decision.reasons else None
    if held and first in _PASSING:
        return ("passing", decision.weight_current, decision.health, decision.mode)
    return (
        decision.action,
        decision.weight_current,
        decision.weight_next,
        decision.health,
        decision.mode,
        first,
    )


def passing(decision: Decision) -> bool:
    """An evaluation that passed (it advanced, promoted, or counted a consecutive pass)."""
    return bool(decision.reasons) and decision.reasons[0].code in _PASSING


def runs(items: Sequence[Decision], key: Callable[[Decision], object]) -> list[Run]:
    found: list[Run] = []
    start = 0
    for index in range(1, len(items) + 1):
        if index == len(items) or key(items[index]) != key(items[start]):
            found.append(Run(start, index - 1))
            start = index
    return found


def summarize(decisions: Sequence[Decision], step_seconds: float, *, held: bool = False) -> Summary:
    """`held`: the weight path was fixed, so passing evaluations are one state in the
    timeline (see `signature`)."""
    if not decisions:
        raise ValueError("a replay has at least one decision")
    changes = tuple(
        Change(run, decisions[run.first])
        for run in runs(decisions, lambda d: signature(d, held=held))
    )
    health = Counter(str(d.health) for d in decisions)
    modes = Counter(str(d.mode) for d in decisions)
    frozen = tuple(
        run
        for run in runs(decisions, lambda d: d.mode is Mode.FREEZE)
        if decisions[run.first].mode is Mode.FREEZE
    )
    return Summary(
        step_seconds=step_seconds,
        points=len(decisions),
        changes=changes,
        seconds_in_health={k: v * step_seconds for k, v in health.items()},
        seconds_in_mode={k: v * step_seconds for k, v in modes.items()},
        actions=dict(Counter(str(d.action) for d in decisions)),
        moves=tuple(d for d in decisions if d.action in MOVES),
        frozen=frozen,
        stale_points=sum(1 for d in decisions if _stale(d)),
    )


def _stale(decision: Decision) -> bool:
    return any(f.stale for f in decision.freshness)
