"""Evaluate gates once: plan queries, fetch them in one deduplicated batch, decide.

This is the imperative shell around `core.decide`, shared by the CLI, the operator and the
benchmark. It never raises for a Prometheus problem: silence becomes missing observations.
It also owns what every caller needs the same way: where a gate's Prometheus is (the
precedence of flags, spec and defaults), one client per distinct Prometheus, and the second
look a decision may need: when `decide` names webhook checks it still needs answers from
(`checks_wanted`), `decide_checked` calls them and decides again with their answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType

from canarygate.api.controls import controls_of
from canarygate.api.converting import to_gate_spec, to_gate_state
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.api.zones import wall_clocks
from canarygate.core import defaults
from canarygate.core.approval import APPROVE_ANNOTATION, approvals_given, promotion_approved
from canarygate.core.checks import CheckResult
from canarygate.core.controls import NO_CONTROLS, ControlKind, Controls, applying, judge_controls
from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import CanarygateError
from canarygate.core.observations import Observations
from canarygate.core.queries import PlannedQuery, plan_queries
from canarygate.core.slow_windows import SlowWindow, plan_slow_windows
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.metrics.batching import QueryBatch
from canarygate.metrics.prometheus import PrometheusClient, PrometheusConfig
from canarygate.metrics.window_cache import WindowCache
from canarygate.webhooks import CheckCall, WebhookCaller

# Decisions made between two returns to the event loop: thousands of gates decided in one go
# would hold it for seconds, and every other tick with it.
DECIDE_BETWEEN_YIELDS = 100


class MissingAddress(CanarygateError):
    """A gate names no Prometheus and the caller gave no default."""


@dataclass(frozen=True)
class Connection:
    """How to reach Prometheus beyond what a gate's spec says, filled from the CLI's or the
    operator's flags. `address` beats `spec.prometheus.address` (an explicit command-line
    choice); `fallback_address` serves gates whose spec names none (an environment variable,
    the operator's default). `timeout` beats `spec.prometheus.timeout`.

    Credentials (token, basic auth, CA) go only where they were meant for: with
    `credentials_only_for_fallback` (the operator), a gate naming its own Prometheus gets
    none of them, so a spec cannot point the operator's token at a server of its choosing.
    The CLI sends them to every gate of the file, as its user asked."""

    address: str | None = None
    fallback_address: str | None = None
    timeout: Duration | None = None
    retries: int = defaults.QUERY_RETRIES
    bearer_token: str | None = None
    basic_auth: tuple[str, str] | None = None
    ca_file: str | None = None
    insecure_skip_verify: bool = False
    credentials_only_for_fallback: bool = False


def prometheus_config(gate: CanaryGate, connection: Connection) -> PrometheusConfig:
    """The Prometheus a gate is evaluated against, by the precedence documented above."""
    spec = gate.spec.prometheus
    return config_for(
        spec.address if spec else None,
        parse_duration(spec.timeout) if spec else None,
        connection,
    )


def config_for(
    address: str | None, timeout: Duration | None, connection: Connection
) -> PrometheusConfig:
    """The precedence of `Connection` applied to a gate's own address and timeout (if any)."""
    chosen = connection.address or address or connection.fallback_address
    if not chosen:
        raise MissingAddress("no Prometheus address: the gate names none and no default is set")
    timeout = connection.timeout or timeout or defaults.QUERY_TIMEOUT
    trusted = not connection.credentials_only_for_fallback or chosen in (
        connection.address,
        connection.fallback_address,
    )
    return PrometheusConfig(
        address=chosen,
        timeout=timeout.seconds,
        retries=connection.retries,
        bearer_token=connection.bearer_token if trusted else None,
        basic_auth=connection.basic_auth if trusted else None,
        ca_file=connection.ca_file if trusted else None,
        insecure_skip_verify=connection.insecure_skip_verify and trusted,
    )


class ClientPool:
    """One PrometheusClient per distinct configuration, kept for as long as the pool lives:
    a CLI run holds it for one tick, the operator for its lifetime (connections are reused)."""

    def __init__(self) -> None:
        self._clients: dict[PrometheusConfig, PrometheusClient] = {}
        self._caches: dict[PrometheusConfig, WindowCache] = {}

    def cache_for(self, config: PrometheusConfig) -> WindowCache:
        """The readings of slow windows kept for that Prometheus (`metrics.window_cache`)."""
        cache = self._caches.get(config)
        if cache is None:
            cache = self._caches[config] = WindowCache()
        return cache

    def client_for(self, config: PrometheusConfig) -> PrometheusClient:
        client = self._clients.get(config)
        if client is None:
            client = self._clients[config] = PrometheusClient(config)
        return client

    @property
    def clients(self) -> tuple[PrometheusClient, ...]:
        return tuple(self._clients.values())

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        self._caches = {}
        await asyncio.gather(*(client.aclose() for client in clients))

    async def __aenter__(self) -> ClientPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


@dataclass(frozen=True)
class TickReport:
    """What one tick cost: queries the gates asked for, distinct queries actually sent, and
    slow-window queries answered from earlier readings (`cached`) or read again because those
    could not stand in (`reread`, in windows). `observations` (in the order of `decisions`)
    are what each gate was decided from, for a second look with its webhook checks' answers
    (`decide_checked`)."""

    decisions: tuple[Decision, ...]
    requested: int
    distinct: int
    http_requests: int
    cached: int = 0
    reread: int = 0
    # What each gate's queries answered, in the order of `decisions`: a gate's queries do not
    # depend on its weight, so a decision at another weight can be made again from them.
    observations: tuple[Observations, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class GateName:
    """Who a webhook check is asked about."""

    namespace: str
    name: str
    revision: str | None


def gate_controls(gate: CanaryGate) -> Controls:
    """The controls a manifest's annotations give (a pause for its revision, clearances, an
    approved promotion), judged against its status, as the operator judges them."""
    extra = gate.metadata.model_extra or {}
    annotations = extra.get("annotations") or {}
    given = controls_of({"annotations": annotations})
    phase = to_gate_state(gate.status).phase
    revision = gate.spec.canary.revision
    outcomes = judge_controls(given, revision, phase)
    approvals = annotations.get(APPROVE_ANNOTATION) if isinstance(annotations, dict) else None
    return Controls(
        pause=applying(outcomes, ControlKind.PAUSE),
        clearances=tuple(c for c in given if c.kind is ControlKind.CLEAR_FREEZE),
        promotion_approved=promotion_approved(
            revision, approvals_given(approvals if isinstance(approvals, str) else None)
        ),
    )


async def call_checks(
    spec: GateSpec, decision: Decision, caller: WebhookCaller, gate: GateName
) -> dict[str, CheckResult]:
    """Call every webhook check `decision` still needs, at once, about `checks_step`."""
    wanted = [
        c for c in spec.canary.checks if c.name in decision.checks_wanted and c.webhook is not None
    ]
    step = decision.checks_step if decision.checks_step is not None else decision.weight_current
    answers = await asyncio.gather(
        *(
            caller.call(
                c.webhook.url,
                CheckCall(
                    c.name, gate.namespace, gate.name, gate.revision, step,
                    decision.weight_current,
                ),
                c.webhook.timeout.seconds,
            )
            for c in wanted
            if c.webhook is not None
        )
    )  # fmt: skip
    return {c.name: answer for c, answer in zip(wanted, answers, strict=True)}


async def decide_checked(
    spec: GateSpec,
    state: GateState,
    observations: Observations,
    decision: Decision,
    caller: WebhookCaller,
    gate: GateName,
    *,
    controls: Controls = NO_CONTROLS,
) -> Decision:
    """`decision`, or when it names webhook checks it still needs, the decision made again
    with their answers (the same observations and instant: only the answers are new)."""
    if not decision.checks_wanted:
        return decision
    answers = await call_checks(spec, decision, caller, gate)
    return decide(
        spec,
        state,
        observations,
        decision.at,
        wall_clocks(spec, decision.at),
        controls=controls,
        checks=answers,
    )


async def evaluate_gates(
    gates: Sequence[CanaryGate],
    client: PrometheusClient,
    at: datetime,
    *,
    weight: int | None = None,
    caller: WebhookCaller | None = None,
) -> TickReport:
    """Evaluate every gate at the same instant against one Prometheus, sharing identical
    queries; with `caller`, the webhook checks a decision needs are called and that gate
    decided again (without one, such a decision holds: its checks are pending)."""
    specs = [(to_gate_spec(gate), to_gate_state(gate.status, weight=weight)) for gate in gates]
    controls = [gate_controls(gate) for gate in gates]
    report = await evaluate_specs(specs, client, at, controls=controls)
    if caller is None:
        return report
    decisions = await asyncio.gather(
        *(
            decide_checked(
                spec, state, observed, decision, caller,
                GateName(gate.namespace, gate.name, gate.spec.canary.revision),
                controls=control,
            )
            for gate, (spec, state), observed, decision, control in zip(
                gates, specs, report.observations, report.decisions, controls, strict=True
            )
        )
    )  # fmt: skip
    return replace(report, decisions=tuple(decisions))


async def evaluate_specs(
    gates: Sequence[tuple[GateSpec, GateState]],
    client: PrometheusClient,
    at: datetime,
    *,
    planned: Sequence[tuple[PlannedQuery, ...]] | None = None,
    controls: Sequence[Controls] | None = None,
    cache: WindowCache | None = None,
    slow: Sequence[tuple[SlowWindow, ...]] | None = None,
) -> TickReport:
    """The same, for gates already converted to core types (the operator keeps those), and
    with their queries already planned when the caller keeps those too (`planned`, in the
    order of `gates`): a gate's queries change only with its spec. `controls` are each
    gate's (in the same order; none by default). With a `cache` (the operator's, one per
    Prometheus, kept across ticks), slow windows are answered from earlier readings where
    that cannot change a decision (`core.slow_windows`); `slow` are the gates' slow windows
    when the caller keeps those too."""
    batch = QueryBatch(client, at, cache=cache)
    requests_before = client.stats.requests
    plans = planned if planned is not None else [plan_queries(spec) for spec, _ in gates]
    if cache is None:
        slows: Sequence[tuple[SlowWindow, ...]] = [()] * len(plans)
    else:
        slows = slow if slow is not None else [plan_slow_windows(spec) for spec, _ in gates]
    observed = await asyncio.gather(
        *(batch.observe(plan, windows) for plan, windows in zip(plans, slows, strict=True))
    )
    given: Sequence[Controls] = controls if controls is not None else [NO_CONTROLS] * len(gates)
    decisions: list[Decision] = []
    for (spec, state), observations, control in zip(gates, observed, given, strict=True):
        decisions.append(
            decide(spec, state, observations, at, wall_clocks(spec, at), controls=control)
        )
        if len(decisions) % DECIDE_BETWEEN_YIELDS == 0:
            await asyncio.sleep(0)  # let the scheduler start the next tick on time
    return TickReport(
        decisions=tuple(decisions),
        requested=batch.requested,
        distinct=batch.distinct,
        http_requests=client.stats.requests - requests_before,
        cached=batch.cached,
        reread=batch.reread,
        observations=tuple(observed),
    )


async def evaluate_everywhere(
    gates: Sequence[CanaryGate],
    configs: Sequence[PrometheusConfig],
    pool: ClientPool,
    at: datetime,
    *,
    weight: int | None = None,
    caller: WebhookCaller | None = None,
) -> list[Decision]:
    """Evaluate gates that may live on different Prometheus servers: one batch per server,
    all servers at once, so a slow one never delays the others. Decisions keep input order."""
    groups: dict[PrometheusConfig, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config, []).append(index)
    reports = await asyncio.gather(
        *(
            evaluate_gates(
                [gates[i] for i in indexes],
                pool.client_for(config),
                at,
                weight=weight,
                caller=caller,
            )
            for config, indexes in groups.items()
        )
    )
    decisions: dict[int, Decision] = {}
    for indexes, report in zip(groups.values(), reports, strict=True):
        decisions.update(zip(indexes, report.decisions, strict=True))
    return [decisions[i] for i in range(len(gates))]
