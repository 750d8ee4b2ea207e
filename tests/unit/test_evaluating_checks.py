"""The shell's second look: a decision that needs webhook checks' answers gets them and is
made again (evaluating.decide_checked), the hooks answering through httpx.MockTransport."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from canarygate.core import Action, GateState, decide
from canarygate.core.checks import CheckSpec, CheckTiming, WebhookCheck
from canarygate.evaluating import GateName, decide_checked
from canarygate.webhooks import WebhookCaller
from tests.unit.core.builders import gate, healthy

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)


async def test_a_webhook_is_asked_about_the_step_and_its_answer_decides() -> None:
    hook = CheckSpec("smoke", when=CheckTiming.BEFORE_EACH_STEP, webhook=WebhookCheck("http://h/c"))
    spec = gate()
    spec = replace(spec, canary=replace(spec.canary, checks=(hook,)))
    state = GateState(weight=10)
    observations = healthy(spec)
    first = decide(spec, state, observations, NOW)
    assert first.checks_wanted == ("smoke",)

    asked: list[dict[str, object]] = []
    answers = iter([httpx.Response(200), httpx.Response(423, json={"message": "change freeze"})])

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(json.loads(request.content))
        return next(answers)

    caller = WebhookCaller(transport=httpx.MockTransport(handler))
    name = GateName("shop", "checkout", "v2")
    try:
        passed = await decide_checked(spec, state, observations, first, caller, name)
        refused = await decide_checked(spec, state, observations, first, caller, name)
    finally:
        await caller.aclose()
    assert [(a["step"], a["weight"], a["revision"]) for a in asked] == [(25, 10, "v2")] * 2
    assert (passed.action, passed.weight_next) == (Action.ADVANCE, 25)
    assert (refused.action, refused.weight_next) == (Action.HOLD, 10)
    assert refused.reasons[0].message.startswith("hold: check smoke failed: answered 423")
    assert "change freeze" in refused.reasons[0].message
    assert passed.at == refused.at == NOW
