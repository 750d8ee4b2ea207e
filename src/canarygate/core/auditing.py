"""Audit of the gate itself: which fields a spec edit changed, and whether it loosened a rule.

A gate's spec is kept, between edits, as a flat map from field path to value text
(`spec.canary.guardrails[error-rate].max` -> `0.01`; the shell builds it, see
api.auditing). Two such maps compared say which fields changed, and for each whether the
change makes a rule looser: a lower objective, a higher `max`, fewer `minSamples`, a higher
burn-rate threshold, a guardrail, a check or a journey removed, a critical guardrail or check
made minor, a shorter freeze cooldown... A change whose direction cannot be told (a query
rewritten, a tier renamed, a change type made `hotfix`) counts as looser: passes counted under
a rule that may have been stricter are not evidence under the new one. Fields that decide no
evidence (steps, interval, traffic, approval, Prometheus, enforcement, an incident reference)
are recorded and loosen nothing.

Loosening a rule mid-rollout restarts the count of passes for the current step, so an edit
can never let a step through on passes earned before it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError


class Direction(StrEnum):
    LOOSER = "looser"
    STRICTER = "stricter"
    CANNOT_TELL = "cannot tell"  # counts as looser
    NEUTRAL = "recorded"  # decides no evidence


@dataclass(frozen=True)
class FieldChange:
    path: str
    before: str | None  # None: the field was added
    after: str | None  # None: the field was removed
    direction: Direction

    @property
    def loosens(self) -> bool:
        return self.direction in (Direction.LOOSER, Direction.CANNOT_TELL)

    def describe(self) -> str:
        before = "(none)" if self.before is None else self.before
        after = "(removed)" if self.after is None else self.after
        return f"{self.path}: {before} -> {after} ({self.direction})"


@dataclass(frozen=True)
class SpecChanges:
    changes: tuple[FieldChange, ...]

    @property
    def loosened(self) -> tuple[FieldChange, ...]:
        return tuple(c for c in self.changes if c.loosens)

    def __bool__(self) -> bool:
        return bool(self.changes)


Judge = Callable[[str, str], Direction]


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return parse_duration(text).milliseconds  # durations: `5m`, `1h`


def _higher_looser(before: str, after: str) -> Direction:
    try:
        return Direction.LOOSER if _number(after) > _number(before) else Direction.STRICTER
    except (ValueError, SpecError):
        return Direction.CANNOT_TELL


def _lower_looser(before: str, after: str) -> Direction:
    try:
        return Direction.LOOSER if _number(after) < _number(before) else Direction.STRICTER
    except (ValueError, SpecError):
        return Direction.CANNOT_TELL


def _ranked(*levels: tuple[str, ...]) -> Judge:
    """Values from the loosest level to the strictest; within a level, cannot tell."""
    rank = {value: i for i, level in enumerate(levels) for value in level}

    def judge(before: str, after: str) -> Direction:
        if before not in rank or after not in rank or rank[before] == rank[after]:
            return Direction.CANNOT_TELL
        return Direction.LOOSER if rank[after] < rank[before] else Direction.STRICTER

    return judge


def _always(direction: Direction) -> Judge:
    return lambda before, after: direction


_QUERY = _always(Direction.CANNOT_TELL)
_NEUTRAL = _always(Direction.NEUTRAL)

# First match wins, on the path with list items written `[]` (`spec.journeys[].objective`).
RULES: tuple[tuple[re.Pattern[str], Judge], ...] = tuple(
    (re.compile(pattern), judge)
    for pattern, judge in (
        (r"^spec\.(prometheus|canary\.(steps|interval|cohort|revision|approval|traffic))\b",
         _NEUTRAL),
        (r"\.journeys\[\]\.weight$", _NEUTRAL),  # the score only
        # A new enforcement starts a new rollout; an incident reference is a label.
        (r"^spec\.enforcement$", _NEUTRAL),
        (r"\.risk\.factors\.incident$", _NEUTRAL),
        (r"\.sli\.(good|total|recorded)$", _QUERY),
        (r"\.(guardrails|successMetrics)\[\]\.(canary|baseline|samples|baselineSamples)$",
         _QUERY),
        (r"\.exposure\.(canary|total)$", _QUERY),
        (r"\.objective$", _lower_looser),
        (r"\.journeys\[\]\.critical$", _ranked(("false",), ("true",))),
        (r"\.guardrails\[\]\.(max|maxIncrease|failureLimit)$", _higher_looser),
        (r"\.minSamples$", _lower_looser),
        (r"\.guardrails\[\]\.severity$", _ranked(("minor",), ("critical",))),
        (r"\.health\.(red|yellow)\.burnRates\[\]\.threshold$", _higher_looser),
        (r"\.budgetRemaining(AtMost|Below)$", _lower_looser),
        (r"\.health\.maxSampleAge$", _higher_looser),
        (r"\.health\.rules\[\]\.burnRates\[\]\.atLeast$", _higher_looser),
        (r"\.health\.rules\[\]\.severity$", _ranked(("ticket",), ("page",))),
        (r"\.exposure\.tolerance$", _higher_looser),
        (r"\.checks\[\]\.prometheus\.min$", _lower_looser),
        (r"\.checks\[\]\.prometheus\.max$", _higher_looser),
        # A longer timeout lets a slow webhook pass where it failed.
        (r"\.checks\[\]\.(failureLimit|webhook\.timeout)$", _higher_looser),
        (r"\.checks\[\]\.severity$", _ranked(("minor",), ("critical",))),
        (r"\.successMetrics\[\]\.margin$", _higher_looser),
        (r"\.successMetrics\[\]\.minLift$", _lower_looser),
        (r"\.minSegmentShare$", _higher_looser),
        (r"\.policy\.guardedPasses$", _lower_looser),
        (r"\.policy\.freezeCooldown$", _lower_looser),
        (r"\.policy\.matrix\.",
         _ranked(("proceed",), ("neutral-only",), ("guarded",), ("delay", "freeze", "hold"))),
        (r"\.risk\.level$", _ranked(("low",), ("auto",), ("high",))),
        (r"\.risk\.factors\.(customerNeutral|reversible)$", _ranked(("true",), ("false",))),
    )
)  # fmt: skip
_ITEM = re.compile(r"\[[^\]]*\]")
# `spec.journeys[checkout]`: a named list item, whose removal removes a rule.
_ITEM_PREFIX = re.compile(r"^(.*?\[[^\]]*\])")


def _judge(path: str) -> Judge:
    general = _ITEM.sub("[]", path)
    for pattern, judge in RULES:
        if pattern.search(general):
            return judge
    return _QUERY  # a field without a rule: its direction cannot be told


def _item(path: str) -> str | None:
    found = _ITEM_PREFIX.match(path)
    return found.group(1) if found else None


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> SpecChanges:
    """Every field that differs, in path order, each with the direction of its change. A
    field removed loosens (a bound, a guardrail, a journey that no longer judges) unless it
    decides no evidence; a field added tightens when its whole list item is new (a journey, a
    guardrail) and is judged like a change otherwise (a new `max` on a guardrail tightens)."""
    old_items = {item for path in before if (item := _item(path)) is not None}
    new_items = {item for path in after if (item := _item(path)) is not None}
    changes: list[FieldChange] = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        judge = _judge(path)
        if judge is _NEUTRAL:
            direction = Direction.NEUTRAL
        elif new is None:
            direction = Direction.LOOSER
        elif old is None:
            item = _item(path)
            new_item = item is not None and item not in old_items and item in new_items
            stricter = new_item or judge is not _QUERY
            direction = Direction.STRICTER if stricter else Direction.CANNOT_TELL
        else:
            direction = judge(old, new)
        changes.append(FieldChange(path, old, new, direction))
    return SpecChanges(tuple(changes))
