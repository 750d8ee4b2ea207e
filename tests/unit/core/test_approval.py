"""Which moves wait for a person, and what an approval must name."""

from __future__ import annotations

import pytest

from canarygate.core.approval import ApprovalPolicy, ApprovalSteps, approval_key, approval_needed
from canarygate.core.vocabulary import Action, Risk

PROMOTION = ApprovalPolicy(promotion=True)
RISKY_STEPS = ApprovalPolicy(steps=ApprovalSteps.HIGH_RISK)
EVERY_STEP = ApprovalPolicy(steps=ApprovalSteps.ALL)


@pytest.mark.parametrize(
    ("policy", "action", "risk", "waits"),
    [
        (ApprovalPolicy(), Action.PROMOTE, Risk.HIGH, False),
        (PROMOTION, Action.PROMOTE, Risk.LOW, True),
        (PROMOTION, Action.ADVANCE, Risk.HIGH, False),
        (RISKY_STEPS, Action.ADVANCE, Risk.HIGH, True),
        (RISKY_STEPS, Action.ADVANCE, Risk.LOW, False),
        (EVERY_STEP, Action.ADVANCE, Risk.LOW, True),
        (EVERY_STEP, Action.HOLD, Risk.LOW, False),
        (EVERY_STEP, Action.ROLLBACK, Risk.HIGH, False),  # a rollback never waits
    ],
)
def test_what_waits_for_approval(
    policy: ApprovalPolicy, action: Action, risk: Risk, waits: bool
) -> None:
    waiting = approval_needed(policy, action, risk, "v2", 50, given=())
    assert (waiting is not None) is waits


def test_an_approval_names_one_revision_and_one_step() -> None:
    assert approval_key("v2", Action.ADVANCE, 50) == "v2/50"
    assert approval_key("v2", Action.PROMOTE, 100) == "v2/promote"
    assert approval_needed(EVERY_STEP, Action.ADVANCE, Risk.LOW, "v2", 50, given={"v2/50"}) is None
    # Yesterday's release, another step, or the promotion: none of them lets this step go.
    for other in ({"v1/50"}, {"v2/25"}, {"v2/promote"}):
        assert approval_needed(EVERY_STEP, Action.ADVANCE, Risk.LOW, "v2", 50, other) == "v2/50"
