"""The verdict API's answers: a gate's verdict from its latest evaluation when that is fresh
enough, else from one made at once through the shared evaluation path, and never one
evaluation per caller.

Fresh enough: younger than the gate's `spec.canary.interval` plus `slack_seconds` (the
scheduler evaluates every gate once per interval, on a grid of at most 5 s, so a gate it
keeps evaluating is always fresh), never older than `max_age_seconds`, and of the gate's
current spec. Asked about another weight than it was made at, the decision is made again from
the same answers (a gate's queries do not depend on its weight): a new weight costs no query.

Otherwise the gate is evaluated at once, read-only (nothing is written, no state advances:
consecutive passes and guardrail failures count the scheduler's evaluations, once per
interval, never polls). Requests are coalesced: every request for the same gate at the same
weight waits for one evaluation, and the requests arriving within `batch_window_seconds` are
evaluated together, one batch per Prometheus through `evaluating.evaluate_specs`, so queries
shared by many gates (their journeys) are sent once. A thousand callers polling gates the
scheduler evaluates anyway cost no query at all.

The weight judged: a judge-only gate (provider external) is judged at the weight its caller
reports, which the scheduler then judges at too; a gate canarygate drives is judged at the
weight it set, and asking about another weight is refused (it would answer a question
canarygate is not deciding). A gate canarygate drives that has finished answers from its phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from canarygate.api.zones import wall_clocks
from canarygate.core.approval import approval_needed, awaited_approval
from canarygate.core.controls import NO_CONTROLS, Controls
from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision
from canarygate.core.judging import PHASE_JUDGEMENTS, Judgement, judge
from canarygate.core.observations import Observations
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.evaluating import evaluate_specs
from canarygate.metrics.prometheus import PrometheusConfig
from canarygate.operator.callers import CallerBook
from canarygate.operator.observing import Observer
from canarygate.operator.records import GateKey, GateRecord

if TYPE_CHECKING:
    from canarygate.operator.runtime import Runtime

log = logging.getLogger("canarygate.verdicts")

SWEEP_SECONDS: Final = 60.0
# An answered gate keeps its scheduled evaluations cached this long after its last request.
KEEP_ASKED_SECONDS: Final = 3600.0


@dataclass(frozen=True)
class VerdictSettings:
    max_age_seconds: float = 120.0
    slack_seconds: float = 10.0
    # As the scheduler's: requests for gates without a fresh evaluation within this much of
    # each other are evaluated in one batch (each batch costs Prometheus requests whatever
    # its size).
    batch_window_seconds: float = 0.25


class Refused(Exception):
    """A request the API answers with an error status and this message."""

    status = 400


class BadRequest(Refused):
    status = 400


class UnknownGate(Refused):
    status = 404


class NotReady(Refused):
    status = 503


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    spec: GateSpec
    weight: int
    at: float  # monotonic, when its queries were answered
    source: str  # "schedule" or "request"
    observations: Observations = field(default_factory=dict)
    # The people's controls it was decided with (a pause, an approved promotion...).
    controls: Controls = NO_CONTROLS


@dataclass(frozen=True)
class Answer:
    key: GateKey
    judgement: Judgement
    weight: int
    revision: str | None
    judge_only: bool
    max_age_seconds: float
    decision: Decision | None = None
    source: str = "status"  # "schedule", "request", or "status" (a finished or invalid gate)
    age_seconds: float | None = None
    # Without a decision (finished, invalid, unevaluable), why.
    because: str = ""
    # A pass that waits for a person's approval is inconclusive: the key it waits for.
    approval: str | None = None


class _Unevaluable(Exception):
    """The gate cannot be evaluated (no Prometheus to ask); the message says why."""


class Verdicts:
    def __init__(
        self,
        runtime: Runtime,
        settings: VerdictSettings = VerdictSettings(),
        observer: Observer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.observer = observer or runtime.observer
        self._clock = clock
        self._wall = wall
        self._latest: dict[GateKey, Evaluation] = {}
        self._asked: dict[GateKey, float] = {}
        self._inflight: dict[tuple[GateKey, int], asyncio.Future[Evaluation]] = {}
        self._pending: list[tuple[GateRecord, GateState, asyncio.Future[Evaluation]]] = []
        self._flush: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._swept = clock()
        self.books: dict[GateKey, CallerBook] = {}

    # -- the scheduler's side ---------------------------------------------------------------

    def evaluated(
        self,
        record: GateRecord,
        state: GateState,
        decision: Decision,
        observations: Observations,
    ) -> None:
        """The scheduler's evaluation of a gate, kept for the gates callers ask about: every
        judge-only gate (that is what it is for), and the others once asked."""
        if record.spec is not None and (record.judge_only or record.key in self._asked):
            self._latest[record.key] = Evaluation(
                decision,
                record.spec,
                state.weight,
                self._clock(),
                "schedule",
                observations,
                record.decide_controls,
            )

    def callers_of(self, key: GateKey) -> list[dict[str, object]]:
        """What `status.verdict.callers` shows for this gate."""
        book = self.books.get(key)
        return book.view() if book is not None else []

    # -- the API's side ---------------------------------------------------------------------

    def judge_only(self, namespace: str, name: str) -> bool:
        record = self.runtime.records.get(GateKey(namespace, name))
        return record is not None and record.judge_only

    def max_age(self, record: GateRecord) -> float:
        return min(
            record.interval_seconds + self.settings.slack_seconds, self.settings.max_age_seconds
        )

    async def answer(
        self, namespace: str, name: str, weight: int | None, *, caller: str, via: str
    ) -> Answer:
        """The verdict on one gate for one caller; raises Refused for what has none."""
        if not self.runtime.synced.is_set():
            raise NotReady("not ready: the first list of CanaryGates is still pending")
        key = GateKey(namespace, name)
        now = self._clock()
        self._sweep(now)
        record = self.runtime.records.get(key)
        if record is None or record.deleting:
            raise UnknownGate(f"no CanaryGate {namespace}/{name}")
        self._asked[key] = now
        answer = await self._answer(record, weight)
        book = self.books.setdefault(key, CallerBook())
        reported = answer.weight if record.judge_only else None
        book.note(caller, via, answer.judgement, reported, wall=self._wall(), now=now)
        return answer

    async def _answer(self, record: GateRecord, weight: int | None) -> Answer:
        base = Answer(
            key=record.key,
            judgement=Judgement.ERROR,
            weight=record.state.weight,
            revision=record.revision,
            judge_only=record.judge_only,
            max_age_seconds=self.max_age(record),
        )
        if record.problem is not None or record.spec is None:
            return replace(base, because=f"invalid spec: {record.problem or 'unreadable'}")
        if record.judge_only:
            if weight is not None:
                record.reported_weight = weight  # the scheduler judges at it from now on
            state = record.evaluation_state
        else:
            if weight is not None and weight != record.state.weight:
                raise BadRequest(
                    f"CanaryGate {record.key} moves its own traffic (provider "
                    f"{record.provider}) and is at {record.state.weight}%: its verdict is at "
                    "that weight; a weight is only taken for provider external"
                )
            finished = PHASE_JUDGEMENTS.get(record.state.phase)
            if record.terminal and finished is not None:
                return replace(
                    base,
                    judgement=finished,
                    because=f"revision {record.revision or '(none)'} {record.state.phase}",
                )
            state = record.state
        base = replace(base, weight=state.weight)
        evaluation = self._fresh(record, state)
        if evaluation is None:
            try:
                evaluation = await self._evaluate(record, state)
            except _Unevaluable as error:
                return replace(base, because=str(error))
        judgement, approval = self._judged(record, evaluation.decision)
        return replace(
            base,
            judgement=judgement,
            decision=evaluation.decision,
            source=evaluation.source,
            age_seconds=max(0.0, self._clock() - evaluation.at),
            approval=approval,
        )

    def _fresh(self, record: GateRecord, state: GateState) -> Evaluation | None:
        """The latest evaluation if it is fresh and of the current spec. At another weight,
        the decision is made again from its answers (the queries do not depend on the
        weight): the same evidence, judged at the weight asked about, and no query. So is a
        decision made before a control or an approval changed what `decide` takes."""
        latest = self._latest.get(record.key)
        if (
            latest is None
            or latest.spec is not record.spec
            or self._clock() - latest.at > self.max_age(record)
        ):
            return None
        controls = record.decide_controls
        if latest.weight == state.weight and latest.controls == controls:
            return latest
        if not latest.observations:
            return None
        at = latest.decision.at
        decision = decide(
            latest.spec,
            state,
            latest.observations,
            at,
            wall_clocks(latest.spec, at),
            controls=controls,
        )
        again = replace(latest, decision=decision, weight=state.weight, controls=controls)
        self._latest[record.key] = again
        return again

    def _judged(self, record: GateRecord, decision: Decision) -> tuple[Judgement, str | None]:
        judgement = judge(decision)
        awaited = awaited_approval(decision.awaits_approval, record.revision)
        if awaited is not None:  # a hold that a person's approval ends, whatever the policy
            return judgement, awaited
        if judgement is not Judgement.PASS or record.judge_only or record.spec is None:
            return judgement, None
        waits = approval_needed(
            record.spec.canary.approval,
            decision.action,
            decision.risk.risk,
            record.revision,
            decision.weight_next,
            record.approvals,
        )
        return (Judgement.INCONCLUSIVE, waits) if waits is not None else (judgement, None)

    # -- evaluations at once, coalesced ------------------------------------------------------

    async def _evaluate(self, record: GateRecord, state: GateState) -> Evaluation:
        flight = (record.key, state.weight)
        future = self._inflight.get(flight)
        if future is None:
            loop = asyncio.get_running_loop()
            future = self._inflight[flight] = loop.create_future()
            self._pending.append((record, state, future))
            if self._flush is None:
                self._flush = loop.call_later(self.settings.batch_window_seconds, self._start)
        # One caller giving up (a closed connection) must not cancel the others' evaluation.
        return await asyncio.shield(future)

    def _start(self) -> None:
        self._flush = None
        batch, self._pending = self._pending, []
        task = asyncio.ensure_future(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(
        self, batch: list[tuple[GateRecord, GateState, asyncio.Future[Evaluation]]]
    ) -> None:
        groups: dict[
            PrometheusConfig, list[tuple[GateRecord, GateState, asyncio.Future[Evaluation]]]
        ] = {}
        for item in batch:
            record = item[0]
            config = self.runtime.config_of(record)
            if config is None:
                self._settle(
                    item,
                    _Unevaluable(
                        record.problem
                        or "no Prometheus: the gate names none and the operator has no default"
                    ),
                )
            else:
                groups.setdefault(config, []).append(item)
        await asyncio.gather(*(self._run_group(config, group) for config, group in groups.items()))

    async def _run_group(
        self,
        config: PrometheusConfig,
        group: list[tuple[GateRecord, GateState, asyncio.Future[Evaluation]]],
    ) -> None:
        started = self._clock()
        runtime = self.runtime
        cache = runtime.pool.cache_for(config) if runtime.settings.window_cache else None
        try:
            report = await evaluate_specs(
                [(record.spec, state) for record, state, _ in group if record.spec is not None],
                self.runtime.pool.client_for(config),
                self.runtime.settings.clock(),
                planned=[record.planned for record, _, _ in group],
                controls=[record.decide_controls for record, _, _ in group],
                # The scheduler's kept slow windows, under the same bound (core.slow_windows).
                cache=cache,
                slow=[record.slow for record, _, _ in group] if cache is not None else None,
            )
        except Exception as error:  # the evaluation path never raises for telemetry: a bug
            log.exception("evaluating %d gates for verdicts failed", len(group))
            for item in group:
                self._settle(item, error)
            return
        self.observer.evaluated(report, self._clock() - started)
        self.observer.verdict_evaluations.inc(len(group))
        done = self._clock()
        for item, decision, observed in zip(
            group, report.decisions, report.observations, strict=True
        ):
            record, state, _ = item
            assert record.spec is not None
            evaluation = Evaluation(
                decision,
                record.spec,
                state.weight,
                done,
                "request",
                observed,
                record.decide_controls,
            )
            self._latest[record.key] = evaluation
            self._settle(item, evaluation)

    def _settle(
        self,
        item: tuple[GateRecord, GateState, asyncio.Future[Evaluation]],
        outcome: Evaluation | BaseException,
    ) -> None:
        record, state, future = item
        self._inflight.pop((record.key, state.weight), None)
        if future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
            future.exception()  # retrieved: nobody may be waiting any more
        else:
            future.set_result(outcome)

    def _sweep(self, now: float) -> None:
        """Now and then: forget gates nobody asked about for long, and deleted ones."""
        if now - self._swept < SWEEP_SECONDS:
            return
        self._swept = now
        records = self.runtime.records
        for key in [k for k, at in self._asked.items() if now - at > KEEP_ASKED_SECONDS]:
            self._asked.pop(key, None)
            record = records.get(key)
            if record is None or not record.judge_only:
                self._latest.pop(key, None)
        for key in [k for k in self._latest if k not in records]:
            self._latest.pop(key, None)
        for key, book in list(self.books.items()):
            book.expire(now)
            if not book or key not in records:
                del self.books[key]

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for _, _, future in self._pending:
            future.cancel()
        self._pending = []
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
