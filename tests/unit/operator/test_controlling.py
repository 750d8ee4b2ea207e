"""Manual controls against the in-memory API server: pause and resume, abort, a forced
promotion, controls for another revision, and observe-only gates that never move traffic."""

from __future__ import annotations

import json
from typing import Any

from canarygate.core.vocabulary import Action
from canarygate.operator.observing import Observer
from canarygate.operator.rollouts import Rollouts

from .fake_cluster import FakeCluster
from .harness import NS, ROUTE, Harness, gate_body, observations, route_body, route_weights


def cluster(**spec: Any) -> FakeCluster:
    fake = FakeCluster()
    body = gate_body("v2")
    body["spec"].update(spec)
    fake.add_gate(body)
    fake.add_object(ROUTE, route_body())
    return fake


def annotate(fake: FakeCluster, **annotations: str | None) -> None:
    metadata = fake.gates[(NS, "checkout")]["metadata"]
    found = metadata.setdefault("annotations", {})
    for key, value in annotations.items():
        name = f"canarygate.io/{key.replace('_', '-')}"
        if value is None:
            found.pop(name, None)
        else:
            found[name] = value
    metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1000)


def control(revision: str, by: str = "alice", reason: str = "INC-4711") -> str:
    return json.dumps(
        {"revision": revision, "by": by, "reason": reason, "at": "2026-11-25T12:00:00Z"}
    )


def controls(fake: FakeCluster) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in fake.status(NS, "checkout").get("controls") or []}


def history(fake: FakeCluster) -> list[dict[str, Any]]:
    return list(fake.status(NS, "checkout").get("history") or [])


def failing(record: Any) -> Any:
    return observations(record, canary_error_ratio=0.2)


async def test_a_pause_holds_where_it_is_until_resumed() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    annotate(fake, pause=control("v2"))
    for _ in range(4):
        await harness.process()
    status = fake.status(NS, "checkout")
    assert (status["weight"], status["action"]) == (10, "hold")
    assert status["message"].startswith("hold: paused (pause by alice (INC-4711)")
    assert route_weights(fake) == (90, 10)
    pause = controls(fake)["pause"]
    assert (pause["applied"], pause["revision"], pause["by"], pause["reason"]) == (
        True, "v2", "alice", "INC-4711",
    )  # fmt: skip
    assert pause["requestedAt"] == "2026-11-25T12:00:00Z"
    assert pause["message"].startswith("pause by alice (INC-4711) of revision v2 acknowledged")
    acknowledged = [h for h in history(fake) if h.get("control") == "pause"]
    assert len(acknowledged) == 1
    assert (acknowledged[0]["by"], acknowledged[0]["weightTo"]) == ("alice", 10)
    assert fake.reasons().count("Paused") == 1
    assert "HoldStarted" not in fake.reasons()  # the pause's own Event says it

    annotate(fake, pause=None, resume=control("v2", by="bob", reason="mitigated"))
    await harness.process()
    assert "pause" not in controls(fake)
    resume = controls(fake)["resume"]
    assert (resume["applied"], resume["by"], resume["reason"]) == (True, "bob", "mitigated")
    assert fake.reasons().count("Resumed") == 1
    await harness.run_until(lambda s: s.get("weight") == 50)


async def test_a_pause_does_not_stop_a_critical_guardrail_from_rolling_back() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    annotate(fake, pause=control("v2"))
    await harness.process(failing)
    status = fake.status(NS, "checkout")
    assert status["phase"] == "RolledBack"
    assert route_weights(fake) == (100, 0)


async def test_an_abort_sends_everything_to_stable_at_once_and_stays() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 50)
    annotate(fake, abort=control("v2", by="oncall", reason="checkout errors"))
    record = harness.record()
    assert not record.evaluable  # acted on without waiting for an evaluation
    _, decision = await harness.process()
    assert decision is None
    status = fake.status(NS, "checkout")
    assert (status["phase"], status["weight"], status["action"]) == ("RolledBack", 0, "rollback")
    assert route_weights(fake) == (100, 0)
    assert status["message"].startswith("rollback: aborted: abort by oncall (checkout errors)")
    entry = history(fake)[-1]
    assert (entry["action"], entry["control"], entry["by"]) == ("rollback", "abort", "oncall")
    assert (entry["weightFrom"], entry["weightTo"]) == (50, 0)
    assert controls(fake)["abort"]["applied"] is True
    for _ in range(3):  # it stays rolled back, acknowledged once
        await harness.process()
    assert fake.reasons().count("Aborted") == 1
    assert "ControlIgnored" not in fake.reasons()
    assert route_weights(fake) == (100, 0)

    # A new revision starts again; the abort named the old one and is ignored, once.
    gate = fake.gates[(NS, "checkout")]
    gate["spec"]["canary"]["revision"] = "v3"
    gate["metadata"]["generation"] += 1
    await harness.run_until(lambda s: s.get("weight") == 10)
    abort = controls(fake)["abort"]
    assert abort["applied"] is False
    assert abort["message"] == (
        "abort by oncall (checkout errors) ignored: it names revision v2, and the gate rolls "
        "out revision v3"
    )
    assert fake.reasons().count("ControlIgnored") == 1


async def test_a_forced_promotion_records_its_intent_then_promotes_with_who_and_why() -> None:
    fake = cluster()
    observer = Observer()
    harness = Harness(fake)
    harness.rollouts = Rollouts(
        fake, harness.remember, harness.settings, clock=lambda: harness.now, safety=observer
    )
    await harness.run_until(lambda s: s.get("weight") == 10)
    annotate(fake, promote=control("v2", by="lead", reason="hotfix verified by hand"))
    await harness.process()
    status = fake.status(NS, "checkout")
    assert (status["phase"], status["weight"]) == ("Promoted", 100)
    assert route_weights(fake) == (0, 100)
    assert fake.writes[-3:] == ["patch_gate_status", "replace_object", "patch_gate_status"]
    entry = history(fake)[-1]
    assert (entry["action"], entry["control"], entry["by"]) == ("promote", "promote", "lead")
    assert entry["reason"].startswith("promote: forced: promote by lead (hotfix verified by hand)")
    promote = controls(fake)["promote"]
    assert (promote["applied"], promote["by"]) == (True, "lead")
    assert fake.events[-1][:2] == ("Warning", "ForcePromoted")
    sample = observer.registry.get_sample_value(
        "canarygate_forced_promotions_total", {"namespace": NS, "name": "checkout"}
    )
    assert sample == 1.0
    await harness.process()
    assert fake.reasons().count("ForcePromoted") == 1


async def test_an_abort_wins_over_a_promotion_given_with_it() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    annotate(fake, promote=control("v2", by="lead"), abort=control("v2", by="oncall"))
    await harness.process()
    await harness.process()
    assert fake.status(NS, "checkout")["phase"] == "RolledBack"
    assert route_weights(fake) == (100, 0)
    assert controls(fake)["promote"]["applied"] is False
    assert "already RolledBack" in controls(fake)["promote"]["message"]


async def test_a_control_for_another_revision_is_ignored_and_the_rollout_goes_on() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    annotate(fake, pause=control("v1"))
    await harness.run_until(lambda s: s.get("phase") == "Promoted")
    pause = controls(fake)["pause"]
    assert pause["applied"] is False
    assert "names revision v1" in pause["message"]
    assert fake.reasons().count("ControlIgnored") == 1
    ignored = [h for h in history(fake) if h.get("control") == "pause"]
    assert len(ignored) == 1


async def test_an_observing_gate_records_every_move_and_never_writes_the_route() -> None:
    fake = cluster(enforcement="observe")
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("phase") == "Promoted")
    assert "replace_object" not in fake.writes
    assert route_weights(fake) == (100, 0)
    status = fake.status(NS, "checkout")
    assert status["enforcement"] == "observe"
    moves = [h for h in history(fake) if h["action"] in ("advance", "promote")]
    assert [(h["weightFrom"], h["weightTo"]) for h in moves] == [
        (0, 10),
        (10, 50),
        (50, 100),
        (100, 100),
    ]
    assert {h.get("enforcement") for h in moves} == {"observe"}
    assert fake.reasons() == ["RolloutStarted", "Advanced", "Advanced", "Advanced", "Promoted"]
    assert all("observe only" in message for _, _, message in fake.events[1:])


async def test_an_observing_gate_records_a_rollback_without_touching_the_route() -> None:
    fake = cluster(enforcement="observe")
    fake.add_object(ROUTE, route_body(80, 20))  # someone else runs this canary at 20 %
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    await harness.process(failing)
    status = fake.status(NS, "checkout")
    assert status["phase"] == "RolledBack"
    assert history(fake)[-1]["enforcement"] == "observe"
    assert route_weights(fake) == (80, 20)
    assert "replace_object" not in fake.writes


async def test_switching_enforcement_starts_a_new_rollout() -> None:
    fake = cluster(enforcement="observe")
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 50)
    gate = fake.gates[(NS, "checkout")]
    gate["spec"]["enforcement"] = "act"
    gate["metadata"]["generation"] += 1
    await harness.process()
    status = fake.status(NS, "checkout")
    assert (status["enforcement"], status["weight"], status["phase"]) == ("act", 0, "Pending")
    await harness.run_until(lambda s: s.get("weight") == 10)
    assert route_weights(fake) == (90, 10)


async def test_a_clearance_for_the_episode_in_progress_is_acknowledged() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)

    def red(record: Any) -> Any:
        return observations(record, canary_error_ratio=0.001, error_ratio=0.05)

    await harness.process(red)
    freeze = fake.status(NS, "checkout")["freeze"]
    assert freeze["clear"] == f"canarygate.io/clear-freeze={freeze['redSince']}"
    await harness.process()  # out of red: the cooldown (10m by default) holds
    status = fake.status(NS, "checkout")
    assert status["reasonCodes"][0] == "FreezeCooldown"
    assert status["freeze"]["cooldownUntil"] is not None
    annotate(fake, clear_freeze=json.dumps({"redSince": freeze["redSince"], "by": "ic"}))
    await harness.process()
    assert controls(fake)["clear-freeze"]["applied"] is True
    assert "FreezeCleared" in fake.reasons()
    status = fake.status(NS, "checkout")
    assert status["weight"] == 50
    assert "freeze" not in status
    assert Action.ADVANCE.value == status["action"]


async def test_a_restarted_operator_resumes_the_cooldown_exactly() -> None:
    fake = cluster(policy={"freezeCooldown": "3m"})
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)

    def red(record: Any) -> Any:
        return observations(record, canary_error_ratio=0.001, error_ratio=0.05)

    await harness.process(red)
    await harness.process()  # out of red: the cooldown starts now
    before = fake.status(NS, "checkout")["freeze"]
    assert before["clearSince"] is not None
    harness.restart()  # nothing in memory: the next process reads it all from status
    await harness.process()
    after = fake.status(NS, "checkout")
    assert after["freeze"] == before
    assert after["weight"] == 10
    await harness.process()  # 2 minutes into the cooldown of 3: still frozen
    assert fake.status(NS, "checkout")["weight"] == 10
    await harness.process()  # 3 minutes after the cooldown began: it ends
    assert fake.status(NS, "checkout")["weight"] == 50


async def test_a_status_from_before_enforcement_existed_keeps_its_rollout() -> None:
    fake = cluster()
    harness = Harness(fake)
    await harness.run_until(lambda s: s.get("weight") == 10)
    fake.gates[(NS, "checkout")]["status"].pop("enforcement")  # as an older operator wrote it
    assert not harness.record().needs_start
    await harness.process()
    assert fake.status(NS, "checkout")["weight"] == 50
