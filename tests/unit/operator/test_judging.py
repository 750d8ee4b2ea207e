"""Judge-only gates (provider external) in the operator: started and evaluated, their verdict
and callers recorded on change only, and no routing object ever read or written."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import pytest

from canarygate.core import Decision, decide
from canarygate.operator.records import FINALIZER, GateRecord, record_from
from canarygate.operator.rollouts import Rollouts, RolloutSettings

from .fake_cluster import FakeCluster
from .harness import NS, START, gate_body, observations


class NoRouting(FakeCluster):
    """The fake cluster, failing a test that reads or writes any routing object."""

    async def read_objects(self, refs: Any) -> dict[Any, dict[str, Any]]:
        refs = list(refs)
        assert not refs, f"a judge-only gate read {refs}"
        return {}

    async def replace_object(self, ref: Any, body: Any) -> dict[str, Any]:
        raise AssertionError(f"a judge-only gate wrote {ref}")


def external_body(risk: str = "low", **canary: Any) -> dict[str, Any]:
    body = gate_body()
    body["spec"]["canary"]["traffic"] = {"provider": "external"}
    body["spec"]["risk"] = {"level": risk}
    body["spec"]["canary"].update(canary)
    return body


class Judge:
    def __init__(self, body: dict[str, Any]) -> None:
        self.fake = NoRouting()
        self.fake.add_gate(body)
        self.now = START
        self.callers: list[dict[str, Any]] = []
        self.rollouts = Rollouts(
            self.fake,
            lambda _: None,
            RolloutSettings(),
            clock=lambda: self.now,
            callers=lambda _: copy.deepcopy(self.callers),
        )
        self.reported: int | None = None

    def record(self) -> GateRecord:
        record = record_from(self.fake.gate(NS, "checkout"))
        record.reported_weight = self.reported
        return record

    async def visit(self, canary_error_ratio: float = 0.001) -> Decision | None:
        self.now += timedelta(minutes=1)
        record = self.record()
        decision = None
        if record.evaluable and record.spec is not None:
            state = record.evaluation_state
            decision = decide(
                record.spec,
                state,
                observations(record, canary_error_ratio=canary_error_ratio),
                self.now,
            )
        await self.rollouts.process(record, decision)
        return decision

    def status(self) -> dict[str, Any]:
        return self.fake.status(NS, "checkout")


async def test_a_judge_only_gate_starts_without_a_finalizer_or_any_routing() -> None:
    judge = Judge(external_body())
    assert await judge.visit() is None  # the start
    status = judge.status()
    assert status["phase"] == "Progressing"
    assert status["traffic"] == {"provider": "external"}
    assert status["weight"] == 0
    assert "original" not in status["traffic"]
    assert FINALIZER not in (judge.fake.gate(NS, "checkout")["metadata"].get("finalizers") or [])
    assert judge.fake.reasons() == ["JudgingStarted"]
    assert judge.record().evaluable


async def test_the_verdict_and_the_callers_are_written_on_change_only() -> None:
    judge = Judge(external_body())
    await judge.visit()
    judge.reported = 10
    judge.callers = [
        {"name": "secret:shop/t/argo", "via": "api", "verdict": "pass", "weight": 10,
         "since": "2026-11-25T12:00:30Z"},
    ]  # fmt: skip
    decision = await judge.visit()
    assert decision is not None
    assert (decision.action, decision.weight_current) == ("advance", 10)
    status = judge.status()
    assert status["verdict"] == {"verdict": "pass", "callers": judge.callers}
    assert status["weight"] == 10
    assert status["phase"] == "Progressing"  # never Promoted or RolledBack by itself
    writes = len(judge.fake.writes)
    for _ in range(3):  # polls answered the same: nothing to write
        await judge.visit()
    assert len(judge.fake.writes) == writes
    judge.callers = [*judge.callers, {"name": "flagger", "via": "flagger/rollout",
                                      "verdict": "pass", "weight": 10,
                                      "since": "2026-11-25T12:05:00Z"}]  # fmt: skip
    await judge.visit()
    assert len(judge.fake.writes) == writes + 1
    assert [c["name"] for c in judge.status()["verdict"]["callers"]] == [
        "secret:shop/t/argo",
        "flagger",
    ]
    assert judge.fake.reasons() == ["JudgingStarted", "VerdictChanged"]


async def test_a_failing_guardrail_is_fail_and_an_event_but_nothing_moves() -> None:
    judge = Judge(external_body())
    await judge.visit()
    judge.reported = 25
    decision = await judge.visit(canary_error_ratio=0.2)
    assert decision is not None
    assert decision.action == "rollback"
    status = judge.status()
    assert status["verdict"]["verdict"] == "fail"
    assert status["phase"] == "Progressing"
    assert status["weight"] == 25  # as the caller reported it; canarygate set nothing
    kind, reason, message = judge.fake.events[-1]
    assert (kind, reason) == ("Warning", "VerdictChanged")
    assert "-> fail at 25%" in message
    # The failures are counted in status like any gate's.
    assert status["guardrails"][0]["consecutiveFailures"] == 1


async def test_guarded_passes_count_over_time_and_survive_a_step_the_caller_took() -> None:
    judge = Judge(external_body(risk="high"))
    await judge.visit()
    judge.reported = 10
    first = await judge.visit()
    assert first is not None
    assert (first.action, judge.status()["verdict"]["verdict"]) == ("hold", "inconclusive")
    second = await judge.visit()
    assert second is not None
    assert (second.action, judge.status()["verdict"]["verdict"]) == ("advance", "pass")
    assert judge.status()["consecutivePasses"] == 2
    judge.reported = 50  # the other tool stepped: no new count of passes starts
    third = await judge.visit()
    assert third is not None
    assert (third.action, judge.status()["verdict"]["verdict"]) == ("advance", "pass")
    assert judge.status()["consecutivePasses"] == 2  # capped: the count stops changing
    assert judge.status()["weight"] == 50


async def test_a_new_revision_starts_judging_afresh() -> None:
    judge = Judge(external_body())
    await judge.visit()
    judge.reported = 10
    await judge.visit(canary_error_ratio=0.2)
    body = judge.fake.gates[(NS, "checkout")]
    body["spec"]["canary"]["revision"] = "v3"
    body["metadata"]["generation"] += 1
    assert await judge.visit() is None
    status = judge.status()
    assert (status["revision"], status["consecutivePasses"], status["guardrails"]) == ("v3", 0, [])
    assert judge.fake.reasons()[-1] == "JudgingStarted"


class OldCrd(NoRouting):
    """An API server serving an older CRD: it prunes status.verdict, which it does not know."""

    async def patch_gate_status(
        self, namespace: str, name: str, status: Any, *, resource_version: str
    ) -> dict[str, Any]:
        status = {k: v for k, v in status.items() if k != "verdict"}
        return await super().patch_gate_status(
            namespace, name, status, resource_version=resource_version
        )


async def test_an_older_crd_that_drops_the_verdict_is_said_once_not_rewritten_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    judge = Judge(external_body())
    judge.fake = OldCrd(gates=judge.fake.gates)
    judge.rollouts = Rollouts(
        judge.fake, lambda _: None, RolloutSettings(), clock=lambda: judge.now,
        callers=lambda _: [],
    )  # fmt: skip
    notes: dict[str, str] = {}
    original = judge.record

    def record() -> GateRecord:  # the runtime keeps a record's notes from one visit to the next
        found = original()
        found.notes = notes
        return found

    judge.record = record  # type: ignore[method-assign]
    await judge.visit()
    judge.reported = 10
    with caplog.at_level("WARNING", logger="canarygate.operator"):
        for _ in range(4):
            await judge.visit()
    assert "verdict" not in judge.status()
    assert judge.fake.writes.count("patch_gate_status") == 2  # the start, then one evaluation
    assert judge.fake.reasons() == ["JudgingStarted", "VerdictChanged"]
    assert sum("dropped status.verdict" in r.getMessage() for r in caplog.records) == 1
