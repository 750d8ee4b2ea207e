"""`canarygate check`: what a gate body says about a revision (readings), following one gate
through a fake API server (get, then a watch of that gate; retries; deletion; a newer
revision), the progress it shows on a terminal and in CI, and the command's exit codes."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from canarygate.cli import checking
from canarygate.cli.arguments import UsageError
from canarygate.cli.checking import Follower, GateGone, Progress, Superseded, follow
from canarygate.cli.main import main
from canarygate.cli.readings import EXIT_CODES, Outcome, Reading, document, read_gate
from canarygate.kube import Backoff, Forbidden, KubeError
from tests.unit.kube.support import FakeServer, Watch, make_api, status

GATE_PATH = "/apis/canarygate.io/v1alpha1/namespaces/shop/canarygates/web"


def body(
    *,
    spec_revision: str | None = "v2",
    phase: str | None = None,
    revision: str | None = None,
    weight: int | None = None,
    generation: int = 3,
    observed: int | None = 3,
    rv: int = 10,
    **more: Any,
) -> dict[str, Any]:
    canary: dict[str, Any] = {"steps": [20, 60]}
    if spec_revision is not None:
        canary["revision"] = spec_revision
    found: dict[str, Any] = {
        "apiVersion": "canarygate.io/v1alpha1",
        "kind": "CanaryGate",
        "metadata": {
            "namespace": "shop",
            "name": "web",
            "generation": generation,
            "resourceVersion": str(rv),
        },
        "spec": {"canary": canary},
    }
    state: dict[str, Any] = {**more}
    for key, value in (("phase", phase), ("revision", revision), ("weight", weight),
                       ("observedGeneration", observed)):  # fmt: skip
        if value is not None:
            state[key] = value
    if phase is not None:
        found["status"] = state
    return found


# -- readings ------------------------------------------------------------------------------


def test_the_previous_revisions_promotion_is_not_this_revisions_success() -> None:
    reading = read_gate(body(phase="Promoted", revision="v1", weight=100), "v2")
    assert reading.outcome is Outcome.IN_PROGRESS
    assert reading.message == (
        "waiting for the operator to start revision v2 (its status is for revision v1: Promoted)"
    )
    assert reading.phase is None


@pytest.mark.parametrize(
    ("phase", "outcome"),
    [
        ("Promoted", Outcome.PROMOTED),
        ("RolledBack", Outcome.ROLLED_BACK),
        ("Progressing", Outcome.IN_PROGRESS),
        ("Pending", Outcome.IN_PROGRESS),
        ("WaitingForApproval", Outcome.IN_PROGRESS),
    ],
)
def test_the_phase_of_the_watched_revision_decides(phase: str, outcome: Outcome) -> None:
    reading = read_gate(
        body(phase=phase, revision="v2", weight=20, health="green", action="advance",
             message="advance: 0% -> 20%, evaluation passed"),
        "v2",
    )  # fmt: skip
    assert reading.outcome is outcome
    assert reading.final is (outcome in {Outcome.PROMOTED, Outcome.ROLLED_BACK})
    assert (reading.weight, reading.health, reading.action) == (20, "green", "advance")


def test_invalid_counts_only_for_the_generation_the_operator_saw() -> None:
    invalid: dict[str, Any] = {"phase": "Invalid", "message": "invalid spec: steps: bad"}
    current = read_gate(body(**invalid, observed=3, generation=3), "v2")
    assert current.outcome is Outcome.INVALID
    assert current.final
    edited = read_gate(body(**invalid, observed=2, generation=3), "v2")
    assert edited.outcome is Outcome.IN_PROGRESS
    assert "generation 3" in edited.message


def test_a_spec_at_another_revision_waits_for_the_named_one() -> None:
    reading = read_gate(body(spec_revision="v1", phase="Promoted", revision="v1"), "v2")
    assert reading.outcome is Outcome.IN_PROGRESS
    assert reading.message == "waiting for spec.canary.revision to become v2 (it is v1)"


def test_a_gate_without_revision_is_followed_as_it_is() -> None:
    assert read_gate(body(spec_revision=None), None).message == (
        "waiting for the operator to start the rollout"
    )
    promoted = read_gate(body(spec_revision=None, phase="Promoted", weight=100), None)
    assert promoted.outcome is Outcome.PROMOTED
    assert promoted.label() == "shop/web"


def test_waiting_for_approval_says_which_and_how() -> None:
    reading = read_gate(
        body(phase="WaitingForApproval", revision="v2", weight=20,
             approval={"key": "v2/60", "waitingSince": "2026-01-15T12:00:00Z"}),
        "v2",
    )  # fmt: skip
    assert reading.message == "waiting for approval of v2/60 (canarygate approve shop/web)"


def test_text_from_the_status_cannot_forge_a_line() -> None:
    reading = read_gate(
        body(phase="Progressing", revision="v2", message="hold\n\x1b[31mPROMOTED"), "v2"
    )
    assert "\n" not in reading.summary()
    assert "\x1b" not in reading.summary()


def test_the_json_document_names_result_and_exit_code() -> None:
    reading = read_gate(body(phase="RolledBack", revision="v2", weight=0, health="green"), "v2")
    found = document(reading, reading.outcome, gate="shop/web", revision="v2", elapsed=12.34)
    assert found["result"] == "rolled-back"
    assert found["exitCode"] == 1
    assert (found["phase"], found["weight"], found["elapsedSeconds"]) == ("RolledBack", 0, 12.3)


def test_exit_codes_are_the_documented_ones() -> None:
    assert {str(o): c for o, c in EXIT_CODES.items()} == {
        "promoted": 0, "rolled-back": 1, "invalid": 2, "in-progress": 3, "timed-out": 3,
        "error": 4,
    }  # fmt: skip


# -- following one gate --------------------------------------------------------------------


class Gates:
    """GETs of shop/web answered from `answers` (the last one repeats); watches by FakeServer."""

    def __init__(self, *answers: dict[str, Any] | httpx2.Response) -> None:
        self.answers = list(answers)
        self.gets = 0
        self.server = FakeServer(self.get)

    def get(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == GATE_PATH, request.url.path
        self.gets += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, httpx2.Response) else httpx2.Response(200, json=answer)

    async def watch(self) -> Watch:
        return await asyncio.wait_for(self.server.watches.get(), timeout=5)


QUICK = Backoff(base=0.001, cap=0.002)


async def run_follow(
    gates: Gates,
    revision: str | None = None,
    *,
    wait: bool = True,
    pauses: list[float] | None = None,
    backoff: Backoff = QUICK,
) -> tuple[asyncio.Task[Reading], list[Reading], list[str]]:
    seen: list[Reading] = []
    problems: list[str] = []
    follower = Follower(revision, given=revision is not None, report=seen.append)
    api = make_api(gates.server)

    async def pause(seconds: float) -> None:
        if pauses is not None:
            pauses.append(seconds)
        await asyncio.sleep(0)

    task = asyncio.create_task(
        follow(api, "shop", "web", follower, wait=wait, on_problem=problems.append,
               backoff=backoff, pause=pause)
    )  # fmt: skip
    return task, seen, problems


async def test_it_follows_one_gate_through_a_watch_until_promoted() -> None:
    gates = Gates(body(phase="Promoted", revision="v1", weight=100, rv=10))
    task, seen, _ = await run_follow(gates)
    watch = await gates.watch()
    assert watch.path == "/apis/canarygate.io/v1alpha1/namespaces/shop/canarygates"
    assert watch.params["fieldSelector"] == "metadata.name=web"
    # From now (the gate's own resourceVersion may be compacted away), the gate first.
    assert "resourceVersion" not in watch.params
    watch.send("ADDED", body(phase="Promoted", revision="v1", weight=100, rv=10))
    watch.send("MODIFIED", body(phase="Pending", revision="v2", weight=0, rv=11))
    watch.send("BOOKMARK", {"metadata": {"resourceVersion": "12"}})
    watch.send("MODIFIED", body(phase="Progressing", revision="v2", weight=20, rv=13))
    watch.send("MODIFIED", body(phase="Promoted", revision="v2", weight=100, rv=14))
    reading = await asyncio.wait_for(task, timeout=5)
    assert reading.outcome is Outcome.PROMOTED
    assert reading.revision == "v2"
    assert [(r.outcome, r.phase, r.weight) for r in seen] == [
        (Outcome.IN_PROGRESS, None, None),  # v1's Promoted does not count
        (Outcome.IN_PROGRESS, None, None),
        (Outcome.IN_PROGRESS, "Pending", 0),
        (Outcome.IN_PROGRESS, "Progressing", 20),
        (Outcome.PROMOTED, "Promoted", 100),
    ]


async def test_without_wait_it_reads_once() -> None:
    gates = Gates(body(phase="Progressing", revision="v2", weight=20))
    task, seen, _ = await run_follow(gates, wait=False)
    reading = await asyncio.wait_for(task, timeout=5)
    assert reading.outcome is Outcome.IN_PROGRESS
    assert gates.gets == 1
    assert gates.server.watches.empty()
    assert len(seen) == 1


async def test_a_closed_or_expired_watch_reads_the_gate_again() -> None:
    gates = Gates(
        body(phase="Progressing", revision="v2", weight=20, rv=10),
        body(phase="Progressing", revision="v2", weight=60, rv=20),
        body(phase="RolledBack", revision="v2", weight=0, rv=30),
    )
    task, _, _ = await run_follow(gates)
    (await gates.watch()).close()  # the server's timeout
    second = await gates.watch()
    second.send("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})
    reading = await asyncio.wait_for(task, timeout=5)
    assert reading.outcome is Outcome.ROLLED_BACK
    assert gates.gets == 3


async def test_watches_refused_at_once_are_reopened_after_growing_pauses() -> None:
    gates = Gates(body(phase="Progressing", revision="v2", weight=20))
    pauses: list[float] = []
    steady = Backoff(base=0.001, cap=1.0, jitter=0.0)
    task, _, _ = await run_follow(gates, pauses=pauses, backoff=steady)
    for _ in range(4):
        (await gates.watch()).send("ERROR", {"kind": "Status", "code": 410, "reason": "Expired"})
    await gates.watch()
    assert len(pauses) == 4  # one pause before each new read and watch, never a tight loop
    assert pauses == [0.001, 0.002, 0.004, 0.008]
    task.cancel()


async def test_api_failures_are_retried_while_waiting() -> None:
    gates = Gates(
        status(503, "etcd is restarting"),
        httpx2.Response(200, json=body(phase="Promoted", revision="v2", weight=100)),
    )
    task, seen, problems = await run_follow(gates)
    reading = await asyncio.wait_for(task, timeout=5)
    assert reading.outcome is Outcome.PROMOTED
    assert len(problems) == 1
    assert "503 etcd is restarting" in problems[0]
    assert len(seen) == 1


async def test_without_wait_an_api_failure_is_an_error_at_once() -> None:
    task, _, _ = await run_follow(Gates(status(503, "unavailable")), wait=False)
    with pytest.raises(KubeError, match="503"):
        await asyncio.wait_for(task, timeout=5)


async def test_a_refusal_ends_the_wait_at_once() -> None:
    task, _, problems = await run_follow(Gates(status(403, "forbidden: cannot get")))
    with pytest.raises(Forbidden):
        await asyncio.wait_for(task, timeout=5)
    assert problems == []


async def test_a_missing_gate_is_a_usage_error_and_a_deleted_one_an_error() -> None:
    task, _, _ = await run_follow(Gates(status(404, "not found")))
    with pytest.raises(UsageError, match="CanaryGate shop/web not found"):
        await asyncio.wait_for(task, timeout=5)

    gates = Gates(body(phase="Progressing", revision="v2"))
    task, _, _ = await run_follow(gates)
    (await gates.watch()).send("DELETED", body(phase="Progressing", revision="v2"))
    with pytest.raises(GateGone, match="was deleted"):
        await asyncio.wait_for(task, timeout=5)


async def test_a_newer_revision_ends_the_wait_as_an_error() -> None:
    gates = Gates(body(phase="Progressing", revision="v2", weight=20))
    task, _, _ = await run_follow(gates)
    (await gates.watch()).send("MODIFIED", body(spec_revision="v3", phase="Progressing",
                                                revision="v2"))  # fmt: skip
    with pytest.raises(Superseded, match="moved on to revision v3 before revision v2"):
        await asyncio.wait_for(task, timeout=5)


async def test_a_named_revision_is_awaited_until_the_spec_names_it() -> None:
    gates = Gates(body(spec_revision="v1", phase="Promoted", revision="v1", weight=100))
    task, seen, _ = await run_follow(gates, "v2")
    watch = await gates.watch()
    watch.send("MODIFIED", body(spec_revision="v2", phase="Promoted", revision="v1"))
    watch.send("MODIFIED", body(spec_revision="v2", phase="RolledBack", revision="v2"))
    reading = await asyncio.wait_for(task, timeout=5)
    assert reading.outcome is Outcome.ROLLED_BACK
    assert [r.outcome for r in seen[:2]] == [Outcome.IN_PROGRESS, Outcome.IN_PROGRESS]
    assert "become v2" in seen[0].message


# -- progress ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def progress(mode: str, width: int = 200) -> tuple[Progress, io.StringIO, Clock]:
    stream, clock = io.StringIO(), Clock()
    shown = Progress(
        stream, mode, clock=clock, wall=lambda: datetime(2026, 1, 15, 12, 0, 5, tzinfo=UTC),
        width=lambda: width,
    )  # fmt: skip
    return shown, stream, clock


def reading(weight: int, message: str = "advance: 0% -> 20%") -> Reading:
    return read_gate(
        body(phase="Progressing", revision="v2", weight=weight, health="green",
             action="advance", message=message),
        "v2",
    )  # fmt: skip


def test_plain_progress_prints_a_line_per_change_only() -> None:
    shown, stream, clock = progress("plain")
    shown.update(reading(20))
    shown.update(reading(20))
    clock.now = 5
    shown.tick()
    shown.update(reading(60, "advance: 20% -> 60%"))
    shown.problem("503 etcd is restarting")
    lines = stream.getvalue().splitlines()
    assert lines == [
        "12:00:05  shop/web revision v2: Progressing, weight 20%, health green, action advance: "
        "advance: 0% -> 20%",
        "12:00:05  shop/web revision v2: Progressing, weight 60%, health green, action advance: "
        "advance: 20% -> 60%",
        "12:00:05  shop/web revision v2: Progressing, weight 60%, health green, action advance: "
        "advance: 20% -> 60% [503 etcd is restarting; retrying]",
    ]
    assert "\r" not in stream.getvalue()


def test_plain_progress_repeats_itself_after_a_long_quiet() -> None:
    shown, stream, clock = progress("plain")
    shown.update(reading(20))
    clock.now = checking.QUIET_SECONDS + 1
    shown.tick()
    assert stream.getvalue().splitlines()[-1].startswith("12:00:05  still waiting (2m01s): ")


def test_tty_progress_rewrites_one_line_in_place_within_the_width() -> None:
    shown, stream, clock = progress("tty", width=60)
    shown.update(reading(20))
    clock.now = 65
    shown.tick()
    shown.close()
    text = stream.getvalue()
    assert "\n" not in text
    frames = text.split("\r\x1b[K")
    assert frames[0] == ""
    assert frames[-1] == ""  # closed: the line is cleared for the result
    drawn = [f for f in frames if f]
    assert len(drawn) == 2
    assert all(len(f) <= 59 for f in drawn)
    assert drawn[0].startswith("shop/web revision v2: Progressing, weight 20%")
    assert drawn[0].endswith("... (0s)")
    assert drawn[1].endswith("... (1m05s)")  # the text is cut, never the clock


def test_tty_progress_shows_the_elapsed_time() -> None:
    shown, stream, clock = progress("tty")
    shown.update(reading(20))
    clock.now = 3725
    shown.tick()
    assert stream.getvalue().endswith("(1h02m05s)")


def test_auto_progress_is_plain_in_ci_and_off_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert Progress.choose("auto", Terminal()) == "tty"
    assert Progress.choose("auto", io.StringIO()) == "plain"
    monkeypatch.setenv("CI", "true")
    assert Progress.choose("auto", Terminal()) == "plain"
    assert Progress.choose("none", Terminal()) == "none"


# -- the command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["shop"], "'shop': name the gate as NAMESPACE/NAME"),
        (["shop/web/x"], "name the gate as NAMESPACE/NAME"),
        (["shop/web", "--timeout", "0s"], "--timeout: '0s' must be longer than zero"),
        (["shop/web", "--timeout", "8d"], "--timeout: must be between 1s and 7d, got 8d"),
        (["shop/web", "--timeout", "soon"], "--timeout: 'soon' is not a duration"),
        (["shop/web", "-o", "yaml"], "invalid choice: 'yaml'"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["check", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("canarygate: ")
    assert message in err
    assert len(err.splitlines()) == 1


def test_no_cluster_configuration_is_an_error_exit_4(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert main(["check", "shop/web", "-o", "json", "--progress", "none"]) == 4
    out, err = capsys.readouterr()
    found = json.loads(out)
    assert (found["result"], found["exitCode"]) == ("error", 4)
    assert "names no existing file" in found["error"]
    assert err.startswith("canarygate: $KUBECONFIG names no existing file")


def test_an_unexpected_exception_in_check_is_exit_4_not_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.delenv("CANARYGATE_DEBUG", raising=False)
    monkeypatch.setattr(checking, "connect", broken)
    assert main(["check", "shop/web", "--progress", "none"]) == 4
    assert "internal error: RuntimeError: boom" in capsys.readouterr().err
