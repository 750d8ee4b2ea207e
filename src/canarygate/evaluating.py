"""Evaluate gates once: plan queries, fetch them in one deduplicated batch, decide.

This is the imperative shell around `core.decide`, shared by the CLI, the operator and the
benchmark. It never raises for a Prometheus problem: silence becomes missing observations.
It also owns what every caller needs the same way: where a gate's Prometheus is (the
precedence of flags, spec and defaults), and one client per distinct Prometheus.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from canarygate.api.converting import to_gate_spec, to_gate_state
from canarygate.api.v1alpha1 import CanaryGate
from canarygate.core import defaults
from canarygate.core.deciding import decide
from canarygate.core.decisions import Decision
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import CanarygateError
from canarygate.core.observations import Observations
from canarygate.core.queries import PlannedQuery, plan_queries
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.metrics.batching import QueryBatch
from canarygate.metrics.prometheus import PrometheusClient, PrometheusConfig


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
    """What one tick cost: queries the gates asked for and distinct queries actually sent."""

    decisions: tuple[Decision, ...]
    requested: int
    distinct: int
    http_requests: int
    # What each gate's queries answered, in the order of `decisions`: a gate's queries do not
    # depend on its weight, so a decision at another weight can be made again from them.
    observations: tuple[Observations, ...] = ()


async def evaluate_gates(
    gates: Sequence[CanaryGate],
    client: PrometheusClient,
    at: datetime,
    *,
    weight: int | None = None,
) -> TickReport:
    """Evaluate every gate at the same instant against one Prometheus, sharing identical queries."""
    return await evaluate_specs(
        [(to_gate_spec(gate), to_gate_state(gate.status, weight=weight)) for gate in gates],
        client,
        at,
    )


async def evaluate_specs(
    gates: Sequence[tuple[GateSpec, GateState]],
    client: PrometheusClient,
    at: datetime,
    *,
    planned: Sequence[tuple[PlannedQuery, ...]] | None = None,
) -> TickReport:
    """The same, for gates already converted to core types (the operator keeps those), and
    with their queries already planned when the caller keeps those too (`planned`, in the
    order of `gates`): a gate's queries change only with its spec."""
    batch = QueryBatch(client, at)
    requests_before = client.stats.requests
    plans = planned if planned is not None else [plan_queries(spec) for spec, _ in gates]
    observed = await asyncio.gather(*(batch.observe(plan) for plan in plans))
    decisions = tuple(
        decide(spec, state, observations, at)
        for (spec, state), observations in zip(gates, observed, strict=True)
    )
    return TickReport(
        decisions=decisions,
        requested=batch.requested,
        distinct=batch.distinct,
        http_requests=client.stats.requests - requests_before,
        observations=tuple(observed),
    )


async def evaluate_everywhere(
    gates: Sequence[CanaryGate],
    configs: Sequence[PrometheusConfig],
    pool: ClientPool,
    at: datetime,
    *,
    weight: int | None = None,
) -> list[Decision]:
    """Evaluate gates that may live on different Prometheus servers: one batch per server,
    all servers at once, so a slow one never delays the others. Decisions keep input order."""
    groups: dict[PrometheusConfig, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(config, []).append(index)
    reports = await asyncio.gather(
        *(
            evaluate_gates([gates[i] for i in indexes], pool.client_for(config), at, weight=weight)
            for config, indexes in groups.items()
        )
    )
    decisions: dict[int, Decision] = {}
    for indexes, report in zip(groups.values(), reports, strict=True):
        decisions.update(zip(indexes, report.decisions, strict=True))
    return [decisions[i] for i in range(len(gates))]
