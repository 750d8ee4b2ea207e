"""Notifications live: two operator replicas (`--leader-elect`) with three webhook receivers on
loopback, each described by a Secret (`--notify-secret`): a JSON receiver with a bearer token,
a Slack-format one, and one that answers 500 to everything (listed first).

- an approved promotion: every transition posted to each working receiver exactly once, in
  the order of the gate's Events, with the gate, revision, matrix cell, change and next step
  (waiting for approval says how to approve); the failing receiver is retried and given up on,
  and neither it nor the standby replica holds anything back or posts anything twice;
- a rollback: the failing guardrail's values and what to do next;
- an invalid gate and a refused query: what to fix.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from lightkube import ApiError
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, Secret

from lab import scenarios as sc
from lab.stage import Operator, TargetedPrometheus, start_operator
from tests.e2e.helpers import Cluster, wait_until
from tests.e2e.operator_fixtures import (
    LOG_SOURCES,
    REPO,
    Scenario,
    Stage,
    metrics_value,
    opened_stage,
)
from tests.e2e.webhooks import Webhook

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

ROUTE, STABLE, CANARY = "web", "web-stable", "web-canary"
TOKEN = f"e2e-token-{uuid.uuid4().hex}"
SCHEMA = "canarygate.io/notification/v1"


class Receivers:
    """The three webhooks, their Secrets' namespace, and the two replicas."""

    def __init__(self) -> None:
        self.down = Webhook("down", status=500)
        self.json = Webhook("json")
        self.slack = Webhook("slack")
        # The path of a hook URL is a credential (Slack's are): it must never be logged.
        self.paths = {hook.name: f"/hooks/{hook.name}/{uuid.uuid4().hex}" for hook in self.all}
        self.namespace = f"cg-notify-{uuid.uuid4().hex[:8]}"
        self.standby: Operator | None = None
        self.stage: Stage | None = None

    @property
    def all(self) -> tuple[Webhook, ...]:
        return (self.down, self.json, self.slack)

    def secrets(self) -> dict[str, dict[str, str]]:
        return {
            "down": {"url": self.down.address + self.paths["down"], "token": TOKEN},
            "json": {"url": self.json.address + self.paths["json"], "token": TOKEN},
            "slack": {"url": self.slack.address + self.paths["slack"], "format": "slack"},
        }

    def operators(self) -> list[Operator]:
        assert self.stage is not None
        assert self.stage.operator is not None
        return [o for o in (self.stage.operator, self.standby) if o is not None]

    def leader(self) -> Operator:
        [leading] = [o for o in self.operators() if metrics_value(o.metrics(), "canarygate_leader")]
        return leading

    def metric(self, name: str, **labels: str) -> float:
        return metrics_value(self.leader().metrics(), name, **labels)

    def receiver(self, hook: Webhook) -> str:
        return f"{self.namespace}/{hook.name}"

    def documents(self, namespace: str, name: str = "web") -> list[dict[str, Any]]:
        """The JSON receiver's documents about one gate, in the order they arrived."""
        return [
            d.body
            for d in self.json.deliveries()
            if d.body.get("gate", {}).get("namespace") == namespace
            and d.body["gate"].get("name") == name
        ]

    def slack_bodies(self, namespace: str, name: str = "web") -> list[dict[str, Any]]:
        return [
            d.body for d in self.slack.deliveries() if f" {namespace}/{name} " in d.body["text"]
        ]

    def wait_until_all_slack(self, namespace: str, count: int) -> list[dict[str, Any]]:
        """The Slack receiver's bodies about gate `web`, once it has `count` of them."""

        def enough() -> list[dict[str, Any]] | None:
            found = self.slack_bodies(namespace)
            return found if len(found) >= count else None

        bodies: list[dict[str, Any]] = wait_until(
            f"{count} Slack notifications about {namespace}/web", enough, timeout=30, interval=0.2
        )
        return bodies

    def wait_document(self, namespace: str, reason: str, name: str = "web") -> dict[str, Any]:
        document: dict[str, Any] = wait_until(
            f"a {reason} notification about {namespace}/{name}",
            lambda: next(
                (d for d in self.documents(namespace, name) if d["reason"] == reason), None
            ),
            timeout=30,
            interval=0.2,
        )
        return document


@pytest.fixture(scope="module")
def receivers(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    canarygate_crd: None,
    stage_prometheus: TargetedPrometheus,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Receivers]:
    """The webhooks, their Secrets, and the module's operator with a standby replica."""
    hooks = Receivers()
    cluster.client.create(Namespace(metadata=ObjectMeta(name=hooks.namespace)))
    for name, values in hooks.secrets().items():
        cluster.client.create(
            Secret(metadata=ObjectMeta(name=name, namespace=hooks.namespace), stringData=values)
        )
    extra = [
        *(f"--notify-secret={hooks.namespace}/{name}" for name in ("down", "json", "slack")),
        "--notify-retry-for=2s",
        "--notify-timeout=2s",
        "--leader-elect",
        f"--lease-namespace={hooks.namespace}",
        "--lease-duration=6s",
    ]
    log_dir = tmp_path_factory.mktemp("notifications")
    try:
        with opened_stage(request, cluster, stage_prometheus, log_dir, extra) as stage:
            hooks.stage = stage
            # The replica started first holds the Lease; the second keeps its records warm.
            wait_until("the first replica to lead", hooks.leader, timeout=30)
            try:
                hooks.standby = start_operator(
                    kubeconfig=cluster.kubeconfig, prometheus=stage_prometheus.url,
                    log_dir=log_dir, namespaces=stage.namespaces, extra=extra, name="standby",
                    wait=False,
                )  # fmt: skip
                hooks.standby.wait_ready()
                assert hooks.leader() is stage.operator
                yield hooks
            finally:
                if hooks.standby is not None:
                    hooks.standby.stop()
    finally:
        for hook in hooks.all:
            hook.close()
        with contextlib.suppress(ApiError):
            cluster.client.delete(Namespace, hooks.namespace)


@pytest.fixture(scope="module")
def stage(receivers: Receivers) -> Stage:
    """This module's operator (the `scenario` fixture's stage): the one with the receivers."""
    assert receivers.stage is not None
    return receivers.stage


@pytest.fixture
def hooks(request: pytest.FixtureRequest, receivers: Receivers) -> Receivers:
    def standby_log() -> str:
        return receivers.standby.log_tail(40) if receivers.standby else "(not started)"

    request.node.stash.setdefault(LOG_SOURCES, []).append(("standby operator", standby_log))
    return receivers


def prepare(scenario: Scenario) -> None:
    scenario.create(sc.http_route(ROUTE, scenario.namespace, stable=STABLE, canary=CANARY))
    scenario.simulator("gatewayAPI", obj=ROUTE, stable=STABLE, canary=CANARY)


def create_gate(scenario: Scenario, **settings: Any) -> dict[str, Any]:
    approval = settings.pop("approval", None)
    body = sc.gate(
        "web",
        scenario.namespace,
        scenario=scenario.label,
        traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY),
        **settings,
    )
    if approval is not None:
        body["spec"]["canary"]["approval"] = approval
    return scenario.create(body)


def events_of(scenario: Scenario, name: str = "web") -> list[tuple[str, str]]:
    return [(str(e["reason"]), str(e["message"])) for e in scenario.events(name)]


def assert_posted_once_each_in_order(
    hooks: Receivers, scenario: Scenario, documents: list[dict[str, Any]], name: str = "web"
) -> None:
    """The documents are the gate's Events, one for one and in order, each id once."""
    assert [(d["reason"], d["message"]) for d in documents] == events_of(scenario, name)
    assert len({d["id"] for d in documents}) == len(documents)
    assert all(d["schema"] == SCHEMA for d in documents)
    posts = [
        d
        for d in hooks.json.deliveries()
        if d.body.get("gate", {}).get("namespace") == scenario.namespace
    ]
    for post in posts:
        assert post.path == hooks.paths["json"]
        assert post.headers["authorization"] == f"Bearer {TOKEN}"
        assert post.headers["content-type"] == "application/json"
        assert post.headers["user-agent"] == "canarygate-notifier"


def approve(scenario: Scenario) -> str:
    done = subprocess.run(
        [
            sys.executable, "-m", "canarygate", "approve", f"{scenario.namespace}/web",
            f"--kubeconfig={scenario.cluster.kubeconfig}",
        ],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_approved_promotion_is_posted_once_per_transition_though_a_receiver_is_down(
    scenario: Scenario, hooks: Receivers
) -> None:
    prepare(scenario)
    uid = create_gate(scenario, approval={"promotion": True})["metadata"]["uid"]
    ns = scenario.namespace

    scenario.wait_phase("web", "WaitingForApproval", timeout=90)
    waiting = hooks.wait_document(ns, "WaitingForApproval")
    assert waiting["approval"]["key"] == "v1/promote"
    assert waiting["approval"]["command"] == f"canarygate approve {ns}/web"
    assert f"canarygate approve {ns}/web" in waiting["nextStep"]
    assert "canarygate.io/approve=v1/promote" in waiting["nextStep"]
    assert waiting["change"] == {"weightFrom": 60, "weightTo": 60, "phase": "WaitingForApproval"}
    assert approve(scenario) == f"approved v1/promote on {ns}/web"
    scenario.wait_phase("web", "Promoted", timeout=60)
    scenario.wait_event("web", "Promoted")
    hooks.wait_document(ns, "Promoted")

    documents = hooks.documents(ns)
    assert_posted_once_each_in_order(hooks, scenario, documents)
    # A step may wait for the canary's minSamples (an inconclusive guardrail: HoldStarted).
    moves = [d for d in documents if d["reason"] != "HoldStarted"]
    assert [d["reason"] for d in moves] == [
        "RolloutStarted", "Advanced", "Advanced", "WaitingForApproval", "Promoted",
    ]  # fmt: skip
    for document in documents:
        assert document["gate"] == {"namespace": ns, "name": "web", "uid": uid, "revision": "v1"}
    started, first, second, _, promoted = moves
    assert [(d["change"]["weightFrom"], d["change"]["weightTo"]) for d in moves] == [
        (0, 0), (0, 20), (20, 60), (60, 60), (60, 100),
    ]  # fmt: skip
    assert "first step (20%)" in started["nextStep"]
    assert first["cell"] == {
        "health": "green",
        "risk": "low",
        "mode": "proceed",
        "action": "advance",
    }
    assert "the next step (60%)" in first["nextStep"]
    assert "promotion" in second["nextStep"]
    assert promoted["cell"] == {
        "health": "green", "risk": "low", "mode": "proceed", "action": "promote",
    }  # fmt: skip
    assert promoted["change"]["phase"] == "Promoted"
    assert promoted["journeysInBreach"] == []
    [guardrail] = promoted["guardrails"]
    assert (guardrail["name"], guardrail["verdict"]) == ("error-rate", "pass")
    assert guardrail["maxIncrease"] == 0.02
    assert "new stable" in promoted["nextStep"]

    # The Slack receiver: the same transitions, once each, in Slack's shape, without a token.
    slack = hooks.wait_until_all_slack(ns, len(documents))
    assert [b["blocks"][0]["text"]["text"] for b in slack] == [
        f"{d['reason']}: {ns}/web" for d in documents
    ]
    assert all(set(b) == {"text", "blocks"} for b in slack)
    posts = [d for d in hooks.slack.deliveries() if f" {ns}/web " in d.body["text"]]
    assert all("authorization" not in p.headers for p in posts)
    assert all(p.path == hooks.paths["slack"] for p in posts)

    assert_the_receiver_down_and_the_standby_held_nothing_back(hooks, len(documents))


def assert_the_receiver_down_and_the_standby_held_nothing_back(
    hooks: Receivers, delivered: int
) -> None:
    """The receiver that is down was tried (with the token) and retried, and its failures are
    counted, while the rollout went on; the standby posted nothing; no log line of either
    replica shows a hook's path or token."""
    down = hooks.receiver(hooks.down)
    wait_until(
        "the leader to give up on a notification to the receiver that is down",
        lambda: hooks.metric("canarygate_notifications_failed_total", receiver=down) >= 1,
        timeout=30,
    )
    assert hooks.metric("canarygate_notification_retries_total", receiver=down) >= 1
    tried = [d.body["id"] for d in hooks.down.deliveries()]
    assert any(tried.count(i) > 1 for i in tried)  # the same document posted again
    assert all(d.headers["authorization"] == f"Bearer {TOKEN}" for d in hooks.down.deliveries())
    json_sent = hooks.metric(
        "canarygate_notifications_sent_total", receiver=hooks.receiver(hooks.json)
    )
    assert json_sent >= delivered
    assert hooks.standby is not None
    assert metrics_value(hooks.standby.metrics(), "canarygate_notifications_sent_total") == 0
    for operator in hooks.operators():
        log = operator.log_tail(100_000)
        assert TOKEN not in log
        assert not any(path in log for path in hooks.paths.values())


def test_a_rollback_is_posted_with_the_failing_guardrail_and_what_to_do(
    scenario: Scenario, hooks: Receivers
) -> None:
    prepare(scenario)
    scenario.simulators[0].set_faults(errorRatio=0.05)
    create_gate(scenario)
    ns = scenario.namespace

    scenario.wait_phase("web", "RolledBack", timeout=90)
    scenario.wait_event("web", "RolledBack")
    rolled = hooks.wait_document(ns, "RolledBack")

    documents = hooks.documents(ns)
    assert_posted_once_each_in_order(hooks, scenario, documents)
    assert [d["reason"] for d in documents if d["reason"] != "HoldStarted"] == [
        "RolloutStarted", "Advanced", "RolledBack",
    ]  # fmt: skip
    assert rolled == documents[-1]
    assert rolled["type"] == "Warning"
    assert rolled["gate"]["revision"] == "v1"
    assert rolled["change"] == {"weightFrom": 20, "weightTo": 0, "phase": "RolledBack"}
    assert rolled["cell"]["action"] == "rollback"
    [guardrail] = rolled["guardrails"]
    assert guardrail["verdict"] == "fail"
    assert guardrail["canary"] > 0.02  # roughly the 5 % the canary serves
    assert guardrail["baseline"] == 0
    assert (guardrail["maxIncrease"], guardrail["severity"]) == (0.02, "critical")
    assert rolled["reasons"][0]["code"] == "Rollback"
    assert rolled["nextStep"].startswith("Look at the failing guardrail error-rate (canary ")
    assert "push a new revision (spec.canary.revision)" in rolled["nextStep"]

    slack = hooks.wait_until_all_slack(ns, len(documents))
    assert slack[-1]["text"].startswith(f":rotating_light: {ns}/web (revision v1) RolledBack: ")


def test_an_invalid_gate_and_a_refused_query_are_posted_with_what_to_fix(
    scenario: Scenario, hooks: Receivers
) -> None:
    ns = scenario.namespace
    scenario.create(sc.http_route(ROUTE, ns, stable=STABLE, canary=CANARY))
    # The CRD accepts this address (it has a host); canarygate's own check does not.
    create_gate(scenario, prometheus="http://-prometheus:9090")
    journey = sc.journey(scenario.label)
    journey["sli"]["good"] = journey["sli"]["good"].removesuffix(")")  # a parenthesis short
    broken = sc.gate(
        "broken", ns, scenario=scenario.label,
        traffic=sc.gateway_traffic(ROUTE, STABLE, CANARY), journeys=[journey],
    )  # fmt: skip
    scenario.create(broken)

    invalid = hooks.wait_document(ns, "InvalidSpec")
    refused = hooks.wait_document(ns, "QueryError", name="broken")
    scenario.wait_event("broken", "QueryError")

    assert_posted_once_each_in_order(hooks, scenario, hooks.documents(ns))
    assert invalid["type"] == "Warning"
    assert invalid["change"]["phase"] == "Invalid"
    assert invalid["nextStep"].startswith(
        f"Fix the spec (kubectl edit canarygate web -n {ns}): spec.prometheus.address"
    )
    assert_posted_once_each_in_order(hooks, scenario, hooks.documents(ns, "broken"), "broken")
    assert [d["reason"] for d in hooks.documents(ns, "broken")] == [
        "RolloutStarted", "QueryError",
    ]  # fmt: skip
    assert refused["type"] == "Warning"
    assert refused["cell"]["action"] == "hold"
    assert refused["nextStep"].startswith(
        f"Fix the query named here in the gate's spec (kubectl edit canarygate broken -n {ns})"
    )
    assert "journey checkout sli.good" in refused["nextStep"]
