"""Notifications: the documents built from real transitions (a rollout on the fake cluster),
the Slack body, the next steps, and delivery (queue, retries, Secret, shutdown) against
httpx.MockTransport."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from canarygate.core import Missing, MissingKind
from canarygate.core.errors import Forbidden
from canarygate.core.observations import Role
from canarygate.operator.context import Transition
from canarygate.operator.notices import SCHEMA, notice
from canarygate.operator.notifying import NotificationSettings, Notifier, retry_after
from canarygate.operator.receivers import (
    Format,
    ReceiverError,
    SecretRef,
    receiver_from_secret,
    redacted,
)
from canarygate.operator.rollouts import Rollouts
from canarygate.operator.slack_notices import LISTED, slack_body
from canarygate.operator.vocabulary import EventReason

from .fake_cluster import FakeCluster
from .harness import NS, ROUTE, Harness, gate_body, observations, route_body

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
HOOK = "https://hooks.example.com/services/T000/B000/s3cr3t-path?token=q5ery-secret"
TOKEN = "t0ken-never-logged"
REF = SecretRef("ops", "hook")

# -- documents from a real rollout -------------------------------------------------------------


class NotifyingHarness(Harness):
    """The scheduler's visits, with every announced transition collected."""

    def __init__(self, fake: FakeCluster) -> None:
        self.announced: list[Transition] = []
        super().__init__(fake)

    def _rollouts(self) -> Rollouts:
        return Rollouts(
            self.fake, self.remember, self.settings, clock=lambda: self.now,
            notify=self.announced.append,
        )  # fmt: skip


def cluster() -> FakeCluster:
    fake = FakeCluster()
    fake.add_gate(gate_body("v2", steps=(10, 50)))
    fake.add_object(ROUTE, route_body())
    return fake


def failing(record: Any) -> Any:
    return observations(record, canary_error_ratio=0.2, error_ratio=0.05)


async def test_each_transition_of_a_promoted_rollout_is_announced_once_with_its_change() -> None:
    fake = cluster()
    harness = NotifyingHarness(fake)
    await harness.run_until(lambda s: s.get("phase") == "Promoted")

    documents = [notice(t, AT) for t in harness.announced]
    assert [d["reason"] for d in documents] == fake.reasons()  # the Events, one for one
    assert [d["reason"] for d in documents] == [
        "RolloutStarted", "Advanced", "Advanced", "Promoted",
    ]  # fmt: skip
    assert [(d["change"]["weightFrom"], d["change"]["weightTo"]) for d in documents] == [
        (0, 0), (0, 10), (10, 50), (50, 100),
    ]  # fmt: skip
    assert [d["change"]["phase"] for d in documents] == [
        "Pending", "Progressing", "Progressing", "Promoted",
    ]  # fmt: skip
    assert len({d["id"] for d in documents}) == 4
    promoted = documents[-1]
    assert promoted["schema"] == SCHEMA
    assert promoted["gate"] == {
        "namespace": NS, "name": "checkout", "uid": "uid-checkout", "revision": "v2",
    }  # fmt: skip
    assert promoted["type"] == "Normal"
    assert promoted["cell"] == {
        "health": "green", "risk": "low", "mode": "proceed", "action": "promote",
    }  # fmt: skip
    assert promoted["journeysInBreach"] == []
    [guardrail] = promoted["guardrails"]
    assert guardrail["name"] == "error-rate"
    assert guardrail["verdict"] == "pass"
    assert guardrail["max"] == 0.01
    assert guardrail["severity"] is None  # not set in the spec: the document does not guess
    assert "new stable" in promoted["nextStep"]
    assert "spec.canary.revision" in promoted["nextStep"]
    assert "the next step (50%)" in documents[1]["nextStep"]
    assert "promotion" in documents[2]["nextStep"]
    assert "first step (10%)" in documents[0]["nextStep"]
    json.dumps(documents)  # JSON-ready


async def test_a_rollback_names_the_failing_guardrail_the_breached_journey_and_what_to_do() -> None:
    fake = cluster()
    harness = NotifyingHarness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    await harness.run_until(lambda s: s.get("phase") == "RolledBack", measure=failing)

    document = notice(harness.announced[-1], AT)
    assert document["reason"] == "RolledBack"
    assert document["type"] == "Warning"
    assert document["change"] == {"weightFrom": 10, "weightTo": 0, "phase": "RolledBack"}
    assert document["cell"]["action"] == "rollback"
    [journey] = document["journeysInBreach"]
    assert journey["name"] == "checkout"
    assert journey["health"] in ("yellow", "red")
    assert journey["objective"] == 99.9
    assert journey["burnRates"]
    assert all(rate > 1 for rate in journey["burnRates"].values())
    assert "budgetRemaining" in journey
    [guardrail] = document["guardrails"]
    assert guardrail["verdict"] == "fail"
    assert guardrail["canary"] == pytest.approx(0.2)
    # A guardrail at its failure limit is the rollback's own reason (core.deciding).
    lead = document["reasons"][0]
    assert lead["code"] == "Rollback"
    assert "guardrail error-rate failed 1 consecutive time(s)" in lead["message"]
    step = document["nextStep"]
    assert "failing guardrail error-rate (canary 0.2, max 0.01)" in step
    assert "new revision" in step


def healthy_but(role: Role, value: float | Missing) -> Callable[[Any], Any]:
    """Healthy observations, except every query of `role`."""

    def measure(record: Any) -> Any:
        found = observations(record, canary_error_ratio=0.001)
        return {key: value if key.role is role else v for key, v in found.items()}

    return measure


def red(record: Any) -> Any:  # the journey burns its budget; the canary is fine
    return observations(record, canary_error_ratio=0.001, error_ratio=0.05)


def silent(record: Any) -> Any:
    return dict.fromkeys(healthy(record), Missing(MissingKind.NO_DATA, "no data"))


def healthy(record: Any) -> Any:
    return observations(record, canary_error_ratio=0.001)


async def test_freeze_unfreeze_hold_error_and_invalid_are_each_announced_with_what_to_do() -> None:
    fake = cluster()
    fake.gates[(NS, "checkout")]["spec"]["policy"] = {"freezeCooldown": "1m"}
    harness = NotifyingHarness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    refused = Missing(MissingKind.QUERY_ERROR, "guardrail error-rate canary query: parse error")
    for measure in (
        red,  # Frozen
        red,  # nothing new
        healthy,  # out of red, cooling down: HoldStarted
        healthy_but(
            Role.SAMPLES, 10.0
        ),  # the cooldown (1m) is over, an inconclusive hold: Unfrozen
        healthy_but(Role.CANARY, refused),  # QueryError
        silent,  # health unknown: HoldStarted
    ):
        await harness.process(measure)
    gate = fake.gates[(NS, "checkout")]
    gate["spec"]["canary"]["steps"] = [50, 10]  # slipped past the CRD: the operator refuses it
    gate["metadata"]["generation"] += 1
    await harness.process()

    documents = [notice(t, AT) for t in harness.announced]
    assert [d["reason"] for d in documents] == fake.reasons()  # the Events, one for one
    assert [d["reason"] for d in documents[2:]] == [
        "Frozen", "HoldStarted", "Unfrozen", "QueryError", "HoldStarted", "InvalidSpec",
    ]  # fmt: skip
    cooling = documents[3]
    assert cooling["message"].startswith("hold: frozen: checkout red since 12:04:00 UTC; cooldown")
    assert cooling["cell"]["mode"] == "freeze"
    assert "clear-freeze shop/checkout" in cooling["nextStep"]
    later = {d["reason"]: d for d in documents[2:]}
    frozen = later["Frozen"]
    assert frozen["type"] == "Warning"
    assert frozen["cell"] == {"health": "red", "risk": "low", "mode": "freeze", "action": "hold"}
    assert frozen["change"] == {"weightFrom": 10, "weightTo": 10, "phase": "Progressing"}
    [journey] = frozen["journeysInBreach"]
    assert (journey["name"], journey["health"], journey["budgetRemaining"]) == (
        "checkout", "red", pytest.approx(-49.0),
    )  # fmt: skip
    assert journey["burnRates"]["1h"] == pytest.approx(50.0)
    assert "Customer health is red (checkout (red))" in frozen["nextStep"]
    assert later["Unfrozen"]["cell"]["mode"] == "proceed"
    assert "health recovered" in later["Unfrozen"]["nextStep"]
    assert later["QueryError"]["nextStep"].startswith("Fix the query named here")
    assert "parse error" in later["QueryError"]["nextStep"]
    assert later["HoldStarted"]["cell"]["health"] == "unknown"
    assert "metrics are still scraped" in later["HoldStarted"]["nextStep"]  # none: stale
    invalid = later["InvalidSpec"]
    assert invalid["change"]["phase"] == "Invalid"
    assert invalid["nextStep"].startswith("Fix the spec (kubectl edit canarygate checkout -n shop)")
    assert len({d["id"] for d in documents}) == len(documents)


async def test_waiting_for_approval_says_how_to_approve_and_the_promotion_follows() -> None:
    fake = FakeCluster()
    body = gate_body("v2", steps=(10, 50))
    body["spec"]["canary"]["approval"] = {"promotion": True}
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = NotifyingHarness(fake)
    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval")
    for _ in range(2):
        await harness.process()  # still waiting: announced once
    annotations = fake.gates[(NS, "checkout")]["metadata"].setdefault("annotations", {})
    annotations["canarygate.io/approve"] = "v2/promote"
    await harness.run_until(lambda s: s.get("phase") == "Promoted")

    documents = [notice(t, AT) for t in harness.announced]
    assert [d["reason"] for d in documents] == [
        "RolloutStarted", "Advanced", "Advanced", "WaitingForApproval", "Promoted",
    ]  # fmt: skip
    waiting = documents[3]
    assert waiting["approval"] == {
        "key": "v2/promote",
        "action": "promote",
        "toWeight": 100,
        "waitingSince": waiting["approval"]["waitingSince"],
        "annotation": "canarygate.io/approve",
        "command": "canarygate approve shop/checkout",
        "how": "canarygate approve shop/checkout, or kubectl annotate canarygate checkout -n "
        "shop canarygate.io/approve=v2/promote --overwrite",
    }
    assert waiting["change"] == {"weightFrom": 50, "weightTo": 50, "phase": "WaitingForApproval"}
    assert waiting["nextStep"] == (
        "Approve the move if you agree: canarygate approve shop/checkout, or kubectl annotate "
        "canarygate checkout -n shop canarygate.io/approve=v2/promote --overwrite. The gate "
        "holds until then."
    )
    assert "approval" not in documents[4]
    assert documents[4]["change"] == {"weightFrom": 50, "weightTo": 100, "phase": "Promoted"}


async def test_a_worse_success_metric_notifies_the_wait_for_approval_and_how() -> None:
    fake = FakeCluster()
    body = gate_body("v2", steps=(10, 50))  # no approval policy
    body["spec"]["canary"]["successMetrics"] = [
        {"name": "conversion", "canary": "c", "baseline": "b", "direction": "higher"}
    ]
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    harness = NotifyingHarness(fake)

    def worse(record: Any) -> Any:
        found = observations(record, canary_error_ratio=0.001)
        found.update({k: 0.045 for k in found if k.role is Role.SUCCESS_CANARY})
        found.update({k: 0.05 for k in found if k.role is Role.SUCCESS_BASELINE})
        return found

    await harness.run_until(lambda s: s.get("phase") == "WaitingForApproval", measure=worse)
    documents = [notice(t, AT) for t in harness.announced]
    waiting = documents[-1]
    assert waiting["reason"] == "WaitingForApproval"
    assert (waiting["approval"]["key"], waiting["approval"]["action"]) == ("v2/promote", "promote")
    assert waiting["nextStep"].startswith("Approve the move if you agree: canarygate approve ")
    assert [r["code"] for r in waiting["reasons"][:2]] == ["ApprovalNeeded", "SuccessMetricHold"]
    worse_reason = waiting["reasons"][1]["message"]
    assert "success metric conversion is worse than the baseline" in worse_reason
    assert "lift -10.0%" in worse_reason
    assert "a person may approve the promotion" in worse_reason


def transition(
    reason: str,
    message: str = "",
    *,
    status: Mapping[str, Any] | None = None,
    warning: bool = False,
) -> Transition:
    body = gate_body("v3")
    body["metadata"] |= {"uid": "uid-1", "resourceVersion": "7"}
    body["status"] = dict(status or {"phase": "Progressing", "weight": 10})
    return Transition(body, cast(EventReason, reason), message, warning)


@pytest.mark.parametrize(
    ("reason", "message", "status", "expected"),
    [
        (
            "QueryError",
            "configuration error: Prometheus refused 1 query of this gate; fix the spec: "
            "guardrail error-rate canary query: parse error at char 3",
            {},
            "Fix the query named here in the gate's spec (kubectl edit canarygate checkout -n "
            "shop): guardrail error-rate canary query: parse error at char 3.",
        ),
        (
            "WaitingForApproval",
            "hold: waits for approval",
            {
                "phase": "WaitingForApproval",
                "approval": {"key": "v3/promote", "how": "canarygate approve shop/checkout"},
            },
            "Approve the move if you agree: canarygate approve shop/checkout.",
        ),
        (
            "HoldStarted",
            "hold: customer health is unknown",
            {"mode": "hold", "reasonCodes": ["Hold", "Health", "InvalidEvidence"]},
            "answered values that cannot be right",
        ),
        (
            "HoldStarted",
            "hold: customer health is unknown",
            {"mode": "hold", "reasonCodes": ["Hold", "Health"]},
            "Check that the journeys' queries return data",
        ),
        (
            "HoldStarted",
            "hold: customer health is yellow and release risk is high; delaying",
            {
                "mode": "delay",
                "weight": 10,
                "reasonCodes": ["Hold"],
                "journeys": [{"name": "login", "health": "yellow"}],
            },
            "yellow (login (yellow)) and the release is high-risk, so the canary stays at 10%",
        ),
        ("PrometheusUnavailable", "holding", {}, "http://prometheus:9090"),
        ("InvalidSpec", "spec.canary.steps: empty", {}, "spec.canary.steps: empty"),
        ("WeightMismatch", "changed", {}, "GitOps"),
        ("Frozen", "red", {"journeys": [{"name": "login", "health": "red"}]}, "login (red)"),
    ],
)
def test_the_next_step_says_what_to_do(
    reason: str, message: str, status: dict[str, Any], expected: str
) -> None:
    document = notice(transition(reason, message, status=status), AT)
    assert expected in document["nextStep"]


def test_a_reason_added_later_is_sent_with_generic_advice() -> None:
    warned = notice(transition("SomethingNew", "oops", warning=True), AT)
    assert warned["reason"] == "SomethingNew"
    assert warned["nextStep"] == "See kubectl describe canarygate checkout -n shop."
    waiting = notice(
        transition(
            "ApprovalPending",
            "x",
            status={"phase": "WaitingForApproval", "approval": {"key": "v3/10", "how": "annotate"}},
        ),
        AT,
    )
    assert "annotate" in waiting["nextStep"]
    # A status.approval left from an earlier wait says nothing once the phase moved on.
    moved = notice(
        transition("SomethingNew", "x", status={"phase": "Progressing", "approval": {"key": "k"}}),
        AT,
    )
    assert "approval" not in moved
    assert moved["nextStep"] == "Nothing to do."


def test_journeys_in_breach_are_those_not_green() -> None:
    status = {
        "journeys": [
            {"name": "a", "health": "green", "burnRates": {"5m": 0.1}, "budgetRemaining": 0.9},
            {"name": "b", "health": "unknown", "burnRates": {"5m": None}},
            {"name": "c", "health": "red", "burnRates": {"5m": 20.0}, "budgetRemaining": -0.5},
        ]
    }
    document = notice(transition("Frozen", "red", status=status), AT)
    assert [j["name"] for j in document["journeysInBreach"]] == ["b", "c"]
    assert document["journeysInBreach"][1]["budgetRemaining"] == -0.5


# -- the Slack body ---------------------------------------------------------------------------


def test_the_slack_body_has_text_and_blocks_within_slack_limits() -> None:
    status = {
        "phase": "RolledBack", "weight": 0, "health": "red", "risk": "high", "mode": "freeze",
        "action": "rollback",
        "journeys": [
            {"name": name, "health": "red", "burnRates": {"1h": 20.0, "5m": 31.5},
             "budgetRemaining": 0.42}
            for name in ["checkout", *(f"j{i}" for i in range(LISTED + 2))]
        ],
        "guardrails": [{"name": "error-rate", "verdict": "fail", "canary": 0.051,
                        "baseline": 0.0, "samples": 900}],
        "history": [{"action": "rollback", "weightFrom": 20, "weightTo": 0}],
    }  # fmt: skip
    message = "canary 20% -> 0%: <b>error & rate</b> " + "x" * 4000
    body = slack_body(notice(transition("RolledBack", message, status=status, warning=True), AT))

    assert body["text"].startswith(":rotating_light: shop/checkout (revision v3) RolledBack:")
    assert "&lt;b&gt;error &amp; rate&lt;/b&gt;" in body["text"]
    header, section, *rest = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "RolledBack: shop/checkout", "emoji": True},
    }
    assert len(section["text"]["text"]) <= 3000
    fields = [f["text"] for f in section["fields"]]
    assert "*Canary traffic*\n20% → 0%" in fields
    assert "*Matrix cell*\nred x high → freeze" in fields
    journeys, guardrails, step, context = rest
    lines = journeys["text"]["text"].splitlines()
    assert lines[0] == "*Journeys in breach*"
    # The objective comes from the spec: a journey it does not declare shows none.
    assert lines[1] == "• *checkout*: red, objective 99.9%; burn 5m 31.5, 1h 20; 42.0% budget left"
    assert lines[2] == "• *j0*: red; burn 5m 31.5, 1h 20; 42.0% budget left"
    assert lines[-1] == "… and 3 more"
    assert len(lines) == 1 + LISTED + 1
    assert guardrails["text"]["text"] == (
        "*Guardrails*\n• *error-rate*: fail (canary 0.051 vs baseline 0, max 0.01, 900 samples)"
    )
    assert step["text"]["text"].startswith("*Next step*\nLook at the failing guardrail error-rate")
    assert context["type"] == "context"
    assert "uid-1/7/RolledBack" in context["elements"][0]["text"]


# -- receivers from Secrets -------------------------------------------------------------------


def secret(**values: str) -> dict[str, Any]:
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}


def test_a_secret_gives_url_token_and_format_and_shows_neither_url_nor_token() -> None:
    receiver = receiver_from_secret(secret(url=HOOK + "\n", token=TOKEN, format="Slack"))
    assert receiver.url == HOOK
    assert receiver.token == TOKEN
    assert receiver.format is Format.SLACK
    assert receiver.where == "https://hooks.example.com"
    assert repr(receiver) == "Receiver(https://hooks.example.com, slack, token)"
    plain = receiver_from_secret(secret(url="http://10.0.0.1:8080/hook"))
    assert (plain.token, plain.format, plain.where) == (None, Format.JSON, "http://10.0.0.1:8080")
    assert redacted("https://user:pw@[::1]:9/x?y") == "https://[::1]:9"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ({}, "no `url` key"),
        ({"url": "ftp://host/x"}, "not an http:// or https:// URL"),
        ({"url": "https:///nohost"}, "not an http:// or https:// URL"),
        ({"url": "https://host:99999/"}, "not a URL"),
        ({"url": "https://host/", "format": "xml"}, "`format` is not one of json, slack"),
    ],
)
def test_a_secret_that_describes_no_usable_receiver_is_refused(
    content: dict[str, str], problem: str
) -> None:
    with pytest.raises(ReceiverError, match=problem):
        receiver_from_secret(secret(**content))
    with pytest.raises(ReceiverError, match="not base64"):
        receiver_from_secret({"data": {"url": "%%%"}})


def test_retry_after_is_seconds_or_an_http_date() -> None:
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    assert retry_after("7") == 7.0
    assert retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now=lambda: now) == 30.0
    assert retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now=lambda: now) == 0.0
    assert retry_after("soon") is None
    assert retry_after(None) is None


# -- delivery ---------------------------------------------------------------------------------


class Secrets:
    """The Kubernetes API's side: one Secret per reference, or an error."""

    def __init__(self, **values: str) -> None:
        self.values = values
        self.error: Exception | None = None
        self.reads = 0

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        self.reads += 1
        if self.error is not None:
            raise self.error
        return secret(**self.values)


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Receiving:
    """A notifier wired to a mock webhook, with its metrics and recorded backoff delays."""

    def __init__(
        self,
        handler: Handler,
        secrets: Secrets | None = None,
        active: Callable[[], bool] = lambda: True,
        **settings: Any,
    ) -> None:
        self.registry = CollectorRegistry()
        self.secrets = secrets or Secrets(url=HOOK, token=TOKEN)
        self.delays: list[float] = []
        self.requests: list[httpx.Request] = []

        async def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return await handler(request)

        async def sleep(delay: float) -> None:
            self.delays.append(delay)
            await asyncio.sleep(0)

        options: dict[str, Any] = {
            "backoff_seconds": 0.5, "max_backoff_seconds": 4.0, "secret_reread_seconds": 0.0,
            "grace_seconds": 2.0, **settings,
        }  # fmt: skip
        self.notifier = Notifier(
            self.secrets,
            NotificationSettings(secrets=(REF,), **options),
            self.registry,
            active=active,
            clock=lambda: AT,
            transport=httpx.MockTransport(record),
            sleep=sleep,
        )

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, {"receiver": "ops/hook", **labels})
        return value or 0.0

    async def settled(self, count: float, name: str, **labels: str) -> None:
        for _ in range(2000):
            if self.metric(name, **labels) >= count:
                return
            await asyncio.sleep(0.001)
        raise AssertionError(f"{name}{labels} did not reach {count}")

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def answers(*responses: httpx.Response | Exception) -> Handler:
    """The mock webhook answers these, in turn, then 200 for ever."""
    queue = list(responses)

    async def handler(request: httpx.Request) -> httpx.Response:
        if not queue:
            return httpx.Response(200, text="ok")
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler


async def test_a_transition_is_posted_once_as_json_with_the_bearer_token() -> None:
    receiving = Receiving(answers())
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced", "canary 0% -> 10%"))
    await receiving.settled(1, "canarygate_notifications_sent_total")
    await receiving.notifier.close()

    [request] = receiving.requests
    assert str(request.url) == HOOK
    assert request.method == "POST"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    [body] = receiving.bodies()
    assert body["reason"] == "Advanced"
    assert body["message"] == "canary 0% -> 10%"
    assert body["time"] == "2026-11-25T12:00:00Z"
    assert receiving.metric("canarygate_notification_retries_total") == 0


async def test_transitions_are_posted_in_order_and_slack_receivers_get_slack_bodies() -> None:
    receiving = Receiving(answers(), Secrets(url=HOOK, format="slack"))
    await receiving.notifier.start()
    for reason in ("RolloutStarted", "Advanced", "Promoted"):
        receiving.notifier(transition(reason, reason.lower()))
    await receiving.settled(3, "canarygate_notifications_sent_total")
    await receiving.notifier.close()

    bodies = receiving.bodies()
    assert [b["blocks"][0]["text"]["text"] for b in bodies] == [
        "RolloutStarted: shop/checkout", "Advanced: shop/checkout", "Promoted: shop/checkout",
    ]  # fmt: skip
    assert all(set(b) == {"text", "blocks"} for b in bodies)
    assert "authorization" not in receiving.requests[0].headers  # no token in the Secret


async def test_connection_errors_timeouts_and_5xx_are_retried_with_growing_delays() -> None:
    request = httpx.Request("POST", HOOK)
    receiving = Receiving(
        answers(
            httpx.ConnectError("refused", request=request),
            httpx.ReadTimeout("slow", request=request),
            httpx.Response(503),
            httpx.Response(500),
        )
    )
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced"))
    await receiving.settled(1, "canarygate_notifications_sent_total")
    await receiving.notifier.close()

    assert len(receiving.requests) == 5
    assert receiving.metric("canarygate_notification_retries_total") == 4
    # Exponential with jitter: each delay within [half, all] of 0.5 s doubling.
    for attempt, delay in enumerate(receiving.delays):
        ceiling = 0.5 * 2**attempt
        assert ceiling / 2 <= delay <= ceiling
    assert receiving.metric("canarygate_notifications_failed_total", reason="gave_up") == 0


async def test_429_waits_for_its_retry_after() -> None:
    receiving = Receiving(answers(httpx.Response(429, headers={"Retry-After": "3"})))
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced"))
    await receiving.settled(1, "canarygate_notifications_sent_total")
    await receiving.notifier.close()
    assert receiving.delays == [3.0]


async def test_a_receiver_that_keeps_failing_is_given_up_after_the_bounded_time() -> None:
    async def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502)

    receiving = Receiving(down, retry_for_seconds=0.05, backoff_seconds=0.01)

    async def sleep(delay: float) -> None:  # real time passes, so the bound is reached
        receiving.delays.append(delay)
        await asyncio.sleep(delay)

    for worker in receiving.notifier.workers:
        worker._sleep = sleep
    await receiving.notifier.start()
    receiving.notifier(transition("RolledBack", warning=True))
    receiving.notifier(transition("RolloutStarted"))
    await receiving.settled(2, "canarygate_notifications_failed_total", reason="gave_up")
    await receiving.notifier.close()
    assert receiving.metric("canarygate_notifications_sent_total") == 0
    assert len(receiving.requests) >= 4  # each was retried before it was given up


async def test_a_final_refusal_is_not_retried() -> None:
    receiving = Receiving(
        answers(httpx.Response(400), httpx.Response(302, headers={"Location": "http://evil"}))
    )
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced"))
    receiving.notifier(transition("Promoted"))
    await receiving.settled(2, "canarygate_notifications_failed_total", reason="rejected")
    await receiving.notifier.close()
    assert len(receiving.requests) == 2  # the redirect was not followed
    assert receiving.delays == []


async def test_a_refused_token_has_the_secret_read_again_and_a_rotated_one_used() -> None:
    secrets = Secrets(url=HOOK, token="old")

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.headers["authorization"] == "Bearer new" else 401)

    receiving = Receiving(handler, secrets)
    await receiving.notifier.start()
    assert secrets.reads == 1  # at startup
    secrets.values["token"] = "new"
    receiving.notifier(transition("Advanced"))
    await receiving.settled(1, "canarygate_notifications_sent_total")
    assert secrets.reads == 2
    assert [r.headers["authorization"] for r in receiving.requests] == ["Bearer old", "Bearer new"]

    secrets.values["token"] = "revoked"  # not rotated in the Secret: refused, not retried
    receiving.notifier.workers[0].receiver = receiver_from_secret(secret(url=HOOK, token="bad"))
    receiving.notifier(transition("Promoted"))
    await receiving.settled(1, "canarygate_notifications_failed_total", reason="unauthorized")
    await receiving.notifier.close()
    assert len(receiving.requests) == 4


async def test_an_unreadable_secret_is_one_log_line_and_a_metric_then_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    secrets = Secrets(url=HOOK, token=TOKEN)
    secrets.error = Forbidden("403 forbidden", verb="get", target="secrets ops/hook", status=403)
    receiving = Receiving(answers(), secrets)
    with caplog.at_level(logging.INFO, logger="canarygate.notifications"):
        await receiving.notifier.start()  # does not raise
        receiving.notifier(transition("Advanced"))
        receiving.notifier(transition("Promoted"))
        await receiving.settled(2, "canarygate_notifications_failed_total", reason="secret")
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert errors[0].getMessage() == (
            "notifications: Secret ops/hook cannot be read: get secrets ops/hook: 403 forbidden; "
            "its receiver gets nothing until it can be read"
        )
        assert receiving.metric("canarygate_notification_secret_errors_total") == 3

        secrets.error = None
        receiving.notifier(transition("RolledBack"))
        await receiving.settled(1, "canarygate_notifications_sent_total")
        await receiving.notifier.close()
    assert [b["reason"] for b in receiving.bodies()] == ["RolledBack"]


async def test_notify_never_waits_for_a_stuck_receiver_and_the_queue_is_bounded() -> None:
    stuck, posting = asyncio.Event(), asyncio.Event()

    async def hangs(request: httpx.Request) -> httpx.Response:
        posting.set()
        await stuck.wait()
        return httpx.Response(200)

    receiving = Receiving(hangs, queue_size=5, grace_seconds=0.05)
    await receiving.notifier.start()
    receiving.notifier(transition("RolloutStarted"))
    await asyncio.wait_for(posting.wait(), timeout=5)  # the worker holds the first one
    for step in range(20):  # returns at once each time, though nothing is delivered
        receiving.notifier(transition("Advanced", f"step {step}"))
    assert receiving.metric("canarygate_notifications_queued") == 5
    assert receiving.metric("canarygate_notifications_dropped_total", reason="queue_full") == 15
    queued = receiving.notifier.workers[0]._queue
    assert [q.transition.message for q in queued] == [f"step {s}" for s in range(15, 20)]

    await asyncio.wait_for(receiving.notifier.close(), timeout=5)  # the grace, not the stuck post
    assert receiving.metric("canarygate_notifications_dropped_total", reason="shutdown") == 6
    receiving.notifier(transition("Promoted"))  # after close: counted, not queued
    assert receiving.metric("canarygate_notifications_dropped_total", reason="shutdown") == 7


async def test_on_shutdown_what_is_queued_is_still_sent_within_the_grace() -> None:
    receiving = Receiving(answers())
    await receiving.notifier.start()
    for reason in ("Advanced", "Advanced", "Promoted"):
        receiving.notifier(transition(reason))
    await receiving.notifier.close()
    assert receiving.metric("canarygate_notifications_sent_total") == 3
    assert receiving.metric("canarygate_notifications_dropped_total", reason="shutdown") == 0


async def test_a_replica_that_is_not_active_queues_nothing() -> None:
    leading = False
    receiving = Receiving(answers(), active=lambda: leading)
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced", "standby"))
    leading = True
    receiving.notifier(transition("Promoted", "leader"))
    await receiving.notifier.close()
    assert [b["message"] for b in receiving.bodies()] == ["leader"]


async def test_credentials_never_reach_logs_or_metrics(caplog: pytest.LogCaptureFixture) -> None:
    request = httpx.Request("POST", HOOK)
    receiving = Receiving(
        answers(httpx.ConnectError(f"cannot reach {HOOK}", request=request), httpx.Response(404)),
        retry_for_seconds=60,
    )
    with caplog.at_level(logging.DEBUG):
        await receiving.notifier.start()
        receiving.notifier(transition("RolledBack", warning=True))
        await receiving.settled(1, "canarygate_notifications_failed_total", reason="rejected")
        await receiving.notifier.close()
    exposed = generate_latest(receiving.registry).decode()
    text = caplog.text
    assert "https://hooks.example.com (Secret ops/hook)" in text
    # httpx's own request line, with the URL cut to what may be shown.
    assert 'HTTP Request: POST https://hooks.example.com "HTTP/1.1 404 Not Found"' in text
    assert not logging.getLogger("httpx").filters  # removed when the notifier closed
    for secret_part in ("s3cr3t-path", "q5ery-secret", TOKEN):
        assert secret_part not in text
        assert secret_part not in exposed
    assert 'receiver="ops/hook"' in exposed


def test_the_settings_are_bounded_by_design() -> None:
    settings = NotificationSettings()
    # Retries stop within the bound; a retried notification never waits past it.
    assert settings.retry_for_seconds <= 300
    assert settings.max_backoff_seconds < settings.retry_for_seconds
    assert timedelta(seconds=settings.grace_seconds) < timedelta(seconds=30)


async def test_a_receiver_that_does_not_answer_in_time_is_retried() -> None:
    slow = True

    async def handler(request: httpx.Request) -> httpx.Response:
        if slow:
            await asyncio.sleep(30)  # longer than the whole post may take
        return httpx.Response(200)

    receiving = Receiving(handler, timeout_seconds=0.05)
    await receiving.notifier.start()
    receiving.notifier(transition("Advanced"))
    await receiving.settled(1, "canarygate_notification_retries_total")
    slow = False
    await receiving.settled(1, "canarygate_notifications_sent_total")
    await receiving.notifier.close()
    # At least one post timed out and was retried (more than one on a loaded machine, where
    # the retry may come before the handler turns fast); exactly one was delivered.
    assert len(receiving.requests) >= 2


async def test_a_rotated_hook_url_is_used_after_a_refusal_and_on_the_periodic_read() -> None:
    secrets = Secrets(url=HOOK, token=TOKEN)
    moved = "https://hooks.example.com/services/T000/B000/new-path"

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if str(request.url) == moved else 404)

    receiving = Receiving(handler, secrets)
    await receiving.notifier.start()
    secrets.values["url"] = moved  # the old hook was deleted: 404, read again, posted anew
    receiving.notifier(transition("Advanced"))
    await receiving.settled(1, "canarygate_notifications_sent_total")
    assert [str(r.url) for r in receiving.requests] == [HOOK, moved]

    periodic = Receiving(handler, Secrets(url=HOOK), secret_refresh_seconds=0.0)
    await periodic.notifier.start()
    periodic.secrets.values["url"] = moved  # read before the next post: never refused
    periodic.notifier(transition("Promoted"))
    await periodic.settled(1, "canarygate_notifications_sent_total")
    await asyncio.gather(receiving.notifier.close(), periodic.notifier.close())
    assert [str(r.url) for r in periodic.requests] == [moved]


async def test_wired_into_the_rollouts_every_event_is_posted_once_in_order() -> None:
    receiving = Receiving(answers(httpx.Response(503)))  # one retry on the way
    await receiving.notifier.start()
    fake = cluster()
    harness = Harness(fake)
    harness.rollouts = Rollouts(
        fake, harness.remember, harness.settings, clock=lambda: harness.now,
        notify=receiving.notifier,
    )  # fmt: skip
    await harness.run_until(lambda s: s.get("weight") == 10)
    await harness.run_until(lambda s: s.get("phase") == "RolledBack", measure=failing)
    await receiving.notifier.close()

    assert fake.reasons() == ["RolloutStarted", "Advanced", "RolledBack"]
    bodies = receiving.bodies()
    # The first post was answered 503 and retried: the same document, with the same id.
    assert [b["reason"] for b in bodies] == ["RolloutStarted", *fake.reasons()]
    assert bodies[0] == bodies[1]
    assert len({b["id"] for b in bodies}) == 3
    assert receiving.metric("canarygate_notifications_sent_total") == 3
