"""Manual approval: which traffic moves wait for a person, and what an approval names.

An approval names one revision and one step (`v2/50`, or `v2/promote`), so a "yes" given
for one release or one step never lets another through. Pure: the operator reads the
approvals given (an annotation) and asks `approval_needed` before it records a move. One wait
comes from `decide` instead, whatever the policy: a last step held only by success metrics
worse than the baseline (`Decision.awaits_approval`); `decide` promotes it once the promotion's
key is given (`Controls.promotion_approved`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum

from canarygate.core.vocabulary import Action, Risk

PROMOTE = "promote"
FULL_TRAFFIC = 100
# Where approvals are given: `<revision>/<step>` keys, comma or space separated.
APPROVE_ANNOTATION = "canarygate.io/approve"


class ApprovalSteps(StrEnum):
    NONE = "none"
    HIGH_RISK = "high-risk"  # every step of a high-risk release
    ALL = "all"


@dataclass(frozen=True)
class ApprovalPolicy:
    promotion: bool = False
    steps: ApprovalSteps = ApprovalSteps.NONE


def approval_key(revision: str | None, action: Action, weight_next: int) -> str:
    """What an approval of this move says: `<revision>/<step>` or `<revision>/promote`."""
    step = PROMOTE if action is Action.PROMOTE else str(weight_next)
    return f"{revision or '-'}/{step}"


def approval_needed(
    policy: ApprovalPolicy,
    action: Action,
    risk: Risk,
    revision: str | None,
    weight_next: int,
    given: Collection[str],
) -> str | None:
    """The approval key this move waits for, or None when it may go ahead."""
    if action is Action.PROMOTE:
        required = policy.promotion
    elif action is Action.ADVANCE:
        required = policy.steps is ApprovalSteps.ALL or (
            policy.steps is ApprovalSteps.HIGH_RISK and risk is Risk.HIGH
        )
    else:
        return None
    key = approval_key(revision, action, weight_next)
    return key if required and key not in given else None


def awaited_approval(awaits: Action | None, revision: str | None) -> str | None:
    """The approval key a decision that waits for a person whatever the policy says
    (`Decision.awaits_approval`: a promotion held only by worse success metrics) waits for."""
    return None if awaits is None else approval_key(revision, awaits, FULL_TRAFFIC)


def promotion_approved(revision: str | None, given: Collection[str]) -> bool:
    """Whether a person approved this revision's promotion (`Controls.promotion_approved`)."""
    return approval_key(revision, Action.PROMOTE, FULL_TRAFFIC) in given


_NONE_GIVEN: frozenset[str] = frozenset()


def approvals_given(annotation: str | None) -> frozenset[str]:
    """The approval keys an annotation value gives."""
    if not annotation:
        return _NONE_GIVEN
    return frozenset(part for part in annotation.replace(",", " ").split() if part)
