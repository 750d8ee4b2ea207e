"""The words of the domain as enums: health, risk, modes, actions, verdicts, phases."""

from __future__ import annotations

from enum import StrEnum


class Health(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"
    UNKNOWN = "unknown"


# Severity order of the known health values, best first. Unknown is not on this scale.
HEALTH_ORDER: tuple[Health, ...] = (Health.GREEN, Health.YELLOW, Health.RED)


class Risk(StrEnum):
    LOW = "low"
    HIGH = "high"


class RiskLevel(StrEnum):
    """What a gate declares: a fixed risk, or `auto` to derive it from the risk factors."""

    LOW = "low"
    HIGH = "high"
    AUTO = "auto"


class Mode(StrEnum):
    PROCEED = "proceed"
    GUARDED = "guarded"
    NEUTRAL_ONLY = "neutral-only"
    DELAY = "delay"
    FREEZE = "freeze"
    HOLD = "hold"


class Action(StrEnum):
    ADVANCE = "advance"
    HOLD = "hold"
    PROMOTE = "promote"
    ROLLBACK = "rollback"


# Most permissive first; used by property tests and by anyone comparing two decisions.
ACTION_PERMISSIVENESS: dict[Action, int] = {
    Action.PROMOTE: 3,
    Action.ADVANCE: 2,
    Action.HOLD: 1,
    Action.ROLLBACK: 0,
}


class Severity(StrEnum):
    CRITICAL = "critical"
    MINOR = "minor"


class RuleSeverity(StrEnum):
    """What a combined health rule raises when it fires: page is red, ticket is yellow (the
    SRE workbook's two alert severities)."""

    PAGE = "page"
    TICKET = "ticket"


class WindowEffect(StrEnum):
    """What a peak or freeze window (`spec.policy.windows`) does while it applies."""

    FREEZE = "freeze"
    HIGH_RISK = "high-risk"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class Direction(StrEnum):
    """Which way a success metric gets better."""

    HIGHER = "higher"
    LOWER = "lower"


class Lift(StrEnum):
    """A success metric's canary against its baseline."""

    BETTER = "better"
    FLAT = "flat"
    WORSE = "worse"
    INCONCLUSIVE = "inconclusive"


class Enforcement(StrEnum):
    """Whether a gate acts on its decisions or only records them (`spec.enforcement`)."""

    ACT = "act"
    OBSERVE = "observe"


class Phase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PROMOTED = "Promoted"
    ROLLED_BACK = "RolledBack"
    INVALID = "Invalid"
    # Progressing, but the next move waits for a person's approval (see core.approval).
    WAITING_FOR_APPROVAL = "WaitingForApproval"


TERMINAL_PHASES = frozenset({Phase.PROMOTED, Phase.ROLLED_BACK})
