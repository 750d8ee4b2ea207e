"""The verdict API's answers (operator.verdicts): from the latest evaluation while it is fresh,
else one evaluation at once shared by every concurrent request, batched across gates; the
weight rules; finished, invalid and unknown gates. `evaluate_specs` is replaced by a recorder
deciding from fixed observations (the real path runs in tests/integration)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from canarygate.core import Action, GateSpec, GateState, Role, decide
from canarygate.core.controls import NO_CONTROLS, Controls
from canarygate.core.judging import Judgement
from canarygate.core.queries import PlannedQuery
from canarygate.evaluating import Connection, TickReport
from canarygate.operator import verdicts as verdicts_module
from canarygate.operator.records import GateKey, record_from
from canarygate.operator.runtime import Runtime, RuntimeSettings
from canarygate.operator.verdict_serving import answer_document
from canarygate.operator.verdicts import (
    BadRequest,
    NotReady,
    UnknownGate,
    Verdicts,
    VerdictSettings,
)

from .fake_cluster import FakeCluster
from .harness import NS, gate_body, observations

AT = datetime(2026, 11, 25, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """Stands in for evaluating.evaluate_specs: decides from healthy (or failing) values."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.canary_error_ratio = 0.001
        self.by_role: dict[Role, float] = {}  # answers that replace the harness's, by role

    async def __call__(
        self,
        gates: Sequence[tuple[GateSpec, GateState]],
        client: Any,
        at: datetime,
        *,
        planned: Sequence[tuple[PlannedQuery, ...]] | None = None,
        controls: Sequence[Controls] | None = None,
        **more: Any,  # the slow-window cache: not used by this stand-in
    ) -> TickReport:
        self.calls.append(len(gates))
        await asyncio.sleep(0.01)  # a query takes time: concurrent requests pile up meanwhile
        decisions, observed = [], []
        for index, (spec, state) in enumerate(gates):
            record = record_from(gate_body())
            record.spec = spec
            found = observations(record, canary_error_ratio=self.canary_error_ratio)
            found = {key: self.by_role.get(key.role, value) for key, value in found.items()}
            given = controls[index] if controls is not None else NO_CONTROLS
            decisions.append(decide(spec, state, found, at, controls=given))
            observed.append(found)
        return TickReport(
            tuple(decisions), requested=0, distinct=0, http_requests=0,
            observations=tuple(observed),
        )  # fmt: skip


def started(
    body: dict[str, Any], *, weight: int = 10, phase: str = "Progressing"
) -> dict[str, Any]:
    body = {**body}
    body["metadata"] = {**body["metadata"], "uid": f"uid-{body['metadata']['name']}",
                        "generation": 1, "resourceVersion": "7"}  # fmt: skip
    body["status"] = {
        "phase": phase,
        "weight": weight,
        "revision": "v2",
        "traffic": {"provider": "gatewayAPI", "original": {"weights": []}},
    }
    return body


def external(name: str, weight: int = 0) -> dict[str, Any]:
    body = gate_body()
    body["metadata"]["name"] = name
    body["spec"]["canary"]["traffic"] = {"provider": "external"}
    body = started(body, weight=weight)
    body["status"]["traffic"] = {"provider": "external"}
    return body


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    found = Recorder()
    monkeypatch.setattr(verdicts_module, "evaluate_specs", found)
    return found


def service(
    *bodies: dict[str, Any], prometheus: str | None = "http://prometheus:9090"
) -> tuple[Verdicts, Clock]:
    runtime = Runtime(
        FakeCluster(),
        RuntimeSettings(connection=Connection(fallback_address=prometheus), clock=lambda: AT),
    )
    for body in bodies:
        runtime.remember(body)
    runtime.synced.set()
    clock = Clock()
    return Verdicts(runtime, VerdictSettings(max_age_seconds=120), clock=clock), clock


async def ask(verdicts: Verdicts, name: str, weight: int | None = None, caller: str = "c") -> Any:
    return await verdicts.answer(NS, name, weight, caller=caller, via="api")


async def test_a_thousand_concurrent_requests_cost_one_evaluation(recorder: Recorder) -> None:
    verdicts, _ = service(external("checkout"))
    answers = await asyncio.gather(
        *(ask(verdicts, "checkout", 10, caller=f"rollout-{i}") for i in range(1000))
    )
    assert recorder.calls == [1]
    assert {a.judgement for a in answers} == {Judgement.PASS}
    assert {a.source for a in answers} == {"request"}
    assert {a.weight for a in answers} == {10}
    assert len(verdicts.books[GateKey(NS, "checkout")]) == 1000


async def test_requests_for_many_gates_arriving_together_are_one_batch(recorder: Recorder) -> None:
    names = [f"gate-{i}" for i in range(20)]
    verdicts, _ = service(*(external(n) for n in names))
    await asyncio.gather(*(ask(verdicts, n, 10) for n in names))
    assert recorder.calls == [20]


async def test_a_fresh_evaluation_answers_until_it_is_too_old(recorder: Recorder) -> None:
    verdicts, clock = service(external("checkout"))
    first = await ask(verdicts, "checkout", 10)
    clock.now += 30
    second = await ask(verdicts, "checkout", 10)
    assert recorder.calls == [1]
    assert (second.source, second.age_seconds) == ("request", 30.0)
    # Too old: the gate's interval (1m) plus 10 s.
    assert first.max_age_seconds == 70.0
    clock.now += 41
    third = await ask(verdicts, "checkout", 10)
    assert recorder.calls == [1, 1]
    assert third.age_seconds == 0.0


async def test_the_schedulers_evaluations_answer_polls_at_no_cost(recorder: Recorder) -> None:
    verdicts, clock = service(external("checkout", weight=10), external("never-asked"))
    runtime = verdicts.runtime
    await ask(verdicts, "checkout")
    assert recorder.calls == [1]
    for _ in range(5):  # the scheduler evaluates every interval; callers poll in between
        clock.now += 60
        for key in (GateKey(NS, "checkout"), GateKey(NS, "never-asked")):
            record = runtime.records[key]
            assert record.spec is not None
            state = record.evaluation_state
            found = observations(record, canary_error_ratio=0.001)
            verdicts.evaluated(record, state, decide(record.spec, state, found, AT), found)
        for _ in range(6):
            answer = await ask(verdicts, "checkout")
            assert answer.source == "schedule"
    assert recorder.calls == [1]
    # A judge-only gate's evaluations are kept whether asked about or not (that is what it is
    # for): its first question costs no query either.
    assert (await ask(verdicts, "never-asked", 30)).source == "schedule"
    assert recorder.calls == [1]


async def test_a_driven_gates_evaluations_are_kept_once_it_is_asked_about(
    recorder: Recorder,
) -> None:
    verdicts, _ = service(started(gate_body(), weight=10))
    record = verdicts.runtime.records[GateKey(NS, "checkout")]
    assert record.spec is not None
    found = observations(record, canary_error_ratio=0.001)
    state = record.evaluation_state
    verdicts.evaluated(record, state, decide(record.spec, state, found, AT), found)
    assert (await ask(verdicts, "checkout")).source == "request"  # not kept before
    verdicts.evaluated(record, state, decide(record.spec, state, found, AT), found)
    assert (await ask(verdicts, "checkout")).source == "schedule"
    assert recorder.calls == [1]


async def test_a_judge_only_gate_is_judged_at_the_reported_weight(recorder: Recorder) -> None:
    verdicts, clock = service(external("checkout"))
    record = verdicts.runtime.records[GateKey(NS, "checkout")]
    assert (await ask(verdicts, "checkout", 25)).weight == 25
    assert record.reported_weight == 25
    assert record.evaluation_state.weight == 25
    assert (await ask(verdicts, "checkout")).weight == 25  # no weight: the last one reported
    # Another weight while the answers are fresh: decided again from them, no query.
    clock.now += 20
    moved = await ask(verdicts, "checkout", 50)
    assert recorder.calls == [1]
    assert (moved.weight, moved.decision.weight_current, moved.decision.weight_next) == (
        50,
        50,
        100,
    )
    assert moved.decision.action == "advance"
    assert moved.age_seconds == 20.0  # the evidence is as old as its answers
    last = await ask(verdicts, "checkout", 100)
    assert (last.decision.action, last.judgement) == ("promote", Judgement.PASS)
    # Once they are too old, a new weight is evaluated again.
    clock.now += 60
    assert (await ask(verdicts, "checkout", 20)).age_seconds == 0.0
    assert recorder.calls == [1, 1]


async def test_a_failing_canary_fails(recorder: Recorder) -> None:
    recorder.canary_error_ratio = 0.3
    verdicts, _ = service(external("checkout"))
    answer = await ask(verdicts, "checkout", 25)
    assert answer.judgement is Judgement.FAIL
    assert answer.decision is not None
    assert answer.decision.action == "rollback"


async def test_a_gate_canarygate_drives_is_judged_at_its_own_weight(recorder: Recorder) -> None:
    verdicts, _ = service(started(gate_body(), weight=10))
    answer = await ask(verdicts, "checkout")
    assert (answer.weight, answer.judgement) == (10, Judgement.PASS)
    assert (await ask(verdicts, "checkout", 10)).weight == 10
    with pytest.raises(BadRequest, match="moves its own traffic"):
        await ask(verdicts, "checkout", 50)


@pytest.mark.parametrize(("phase", "judgement"), [("Promoted", "pass"), ("RolledBack", "fail")])
async def test_a_finished_gate_answers_from_its_phase(
    recorder: Recorder, phase: str, judgement: str
) -> None:
    verdicts, _ = service(started(gate_body(), weight=0, phase=phase))
    answer = await ask(verdicts, "checkout")
    assert (answer.judgement, answer.source) == (judgement, "status")
    assert phase in answer.because
    assert recorder.calls == []


async def test_an_invalid_gate_is_an_error(recorder: Recorder) -> None:
    body = external("checkout")
    body["spec"]["canary"]["steps"] = [50, 10]
    verdicts, _ = service(body)
    answer = await ask(verdicts, "checkout")
    assert answer.judgement is Judgement.ERROR
    assert answer.because.startswith("invalid spec: spec.canary.steps")
    assert recorder.calls == []


async def test_no_prometheus_is_an_error_not_a_pass(recorder: Recorder) -> None:
    body = external("checkout")
    del body["spec"]["prometheus"]
    verdicts, _ = service(body, prometheus=None)
    answer = await ask(verdicts, "checkout", 10)
    assert answer.judgement is Judgement.ERROR
    assert "Prometheus" in answer.because
    assert recorder.calls == []


async def test_unknown_and_not_yet_listed(recorder: Recorder) -> None:
    verdicts, _ = service(external("checkout"))
    with pytest.raises(UnknownGate):
        await ask(verdicts, "nope")
    verdicts.runtime.synced.clear()
    with pytest.raises(NotReady):
        await ask(verdicts, "checkout")


async def test_a_move_awaiting_approval_is_inconclusive(recorder: Recorder) -> None:
    body = started(gate_body(), weight=10)
    body["spec"]["canary"]["approval"] = {"steps": "all"}
    verdicts, _ = service(body)
    answer = await ask(verdicts, "checkout")
    assert answer.judgement is Judgement.INCONCLUSIVE
    assert answer.approval == "v2/50"
    body["metadata"]["annotations"] = {"canarygate.io/approve": "v2/50"}
    body["metadata"]["resourceVersion"] = "8"
    verdicts.runtime.remember(body)
    assert (await ask(verdicts, "checkout")).judgement is Judgement.PASS


async def test_a_promotion_held_by_a_worse_success_metric_awaits_its_approval(
    recorder: Recorder,
) -> None:
    """No approval policy: a worse success metric at the last step is inconclusive, waiting
    for the promotion's approval; approved, the promotion passes."""
    body = started(gate_body(), weight=100)
    body["spec"]["canary"]["successMetrics"] = [
        {"name": "conversion", "canary": "c", "baseline": "b", "direction": "higher"}
    ]
    recorder.by_role = {Role.SUCCESS_CANARY: 0.045, Role.SUCCESS_BASELINE: 0.05}
    verdicts, _ = service(body)
    answer = await ask(verdicts, "checkout")
    assert answer.judgement is Judgement.INCONCLUSIVE
    assert answer.approval == "v2/promote"
    assert answer.decision.awaits_approval is Action.PROMOTE
    document = answer_document(answer)
    assert document["reasons"][0] == "hold: promote waits for approval v2/promote"
    assert document["awaitsApproval"] == "promote"
    body["metadata"]["annotations"] = {"canarygate.io/approve": "v2/promote"}
    body["metadata"]["resourceVersion"] = "8"
    verdicts.runtime.remember(body)
    approved = await ask(verdicts, "checkout")
    assert (approved.judgement, approved.approval) == (Judgement.PASS, None)
    assert approved.decision.action is Action.PROMOTE


async def test_callers_are_booked_with_their_answer(recorder: Recorder) -> None:
    verdicts, _ = service(external("checkout"))
    await ask(verdicts, "checkout", 10, caller="argo")
    await ask(verdicts, "checkout", 10, caller="argo")
    await ask(verdicts, "checkout", 10, caller="kargo")
    view = verdicts.callers_of(GateKey(NS, "checkout"))
    assert [(c["name"], c["verdict"], c["weight"]) for c in view] == [
        ("argo", "pass", 10),
        ("kargo", "pass", 10),
    ]
