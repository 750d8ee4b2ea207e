"""The operator's memory of one CanaryGate: a compact record, never the whole body.

A record holds what the scheduler needs every tick (the parsed spec, the state to decide
from, when the gate is due) and what tells whether a status write is needed (a digest of the
status' significant fields). Everything else is read from the API server when a write needs
it. Records are built from the raw objects the informer delivers; a spec the API server let
through but canarygate refuses is kept as `problem`, and such a gate is never actuated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from canarygate.api.converting import to_gate_spec
from canarygate.api.loading import parse_gate
from canarygate.api.status import significant
from canarygate.core.approval import APPROVE_ANNOTATION, approvals_given
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.queries import PlannedQuery, plan_queries
from canarygate.core.specs import GateSpec
from canarygate.core.state import GateState
from canarygate.core.vocabulary import Phase
from canarygate.traffic import JUDGE_ONLY, backend_for

FINALIZER = "canarygate.io/restore-traffic"


@dataclass(frozen=True, slots=True)
class GateKey:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Intent:
    """A traffic move decided and recorded in status before it was made."""

    action: str
    weight_from: int
    weight_to: int
    revision: str | None
    decided_at: datetime

    def to_status(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "fromWeight": self.weight_from,
            "toWeight": self.weight_to,
            "revision": self.revision,
            "decidedAt": self.decided_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }


@dataclass(slots=True)
class GateRecord:
    key: GateKey
    uid: str
    generation: int
    resource_version: str
    deleting: bool
    finalizers: tuple[str, ...]
    # From the spec: None with `problem` set when canarygate refuses it.
    spec: GateSpec | None
    problem: str | None
    revision: str | None
    provider: str
    traffic_settings: Mapping[str, Any]
    prometheus_address: str | None
    prometheus_timeout_seconds: float | None
    # From the status.
    started: bool
    status_revision: str | None
    state: GateState
    intent: Intent | None
    last_evaluation: datetime | None
    observed_generation: int | None
    conditions: dict[str, tuple[str, str]]  # type -> (status, reason)
    digest: str
    health: str | None = None
    # Approvals given (annotation canarygate.io/approve), and the one the status waits for.
    approvals: frozenset[str] = frozenset()
    approval_key: str | None = None
    approval_since: str | None = None
    # Scheduling, in memory only.
    due: float = 0.0
    failures: int = 0
    busy: bool = False
    last_drift_check: float = 0.0
    # When this gate was last due (monotonic): the next evaluation is one interval after
    # it, so time spent processing never stretches the rhythm.
    last_due: float | None = None
    notes: dict[str, str] = field(default_factory=dict)  # last Event reason per topic
    # A judge-only gate: the weight its latest caller reported (in memory until the next
    # status write records it as status.weight).
    reported_weight: int | None = None
    _planned: tuple[PlannedQuery, ...] | None = None

    @property
    def planned(self) -> tuple[PlannedQuery, ...]:
        """The gate's queries, planned once per spec (they change only with it)."""
        plan = self._planned
        if plan is None and self.spec is not None:
            plan = self._planned = plan_queries(self.spec)
        return plan or ()

    @property
    def judge_only(self) -> bool:
        """canarygate judges this gate for another tool and never moves its traffic."""
        return self.provider in JUDGE_ONLY

    @property
    def evaluation_state(self) -> GateState:
        """The state a decision starts from: a judge-only gate is judged at the weight its
        callers last reported, the others at the weight canarygate set."""
        if self.reported_weight is None or self.reported_weight == self.state.weight:
            return self.state
        return replace(self.state, weight=self.reported_weight)

    @property
    def interval_seconds(self) -> float:
        return self.spec.canary.interval.seconds if self.spec else 60.0

    @property
    def needs_start(self) -> bool:
        """A first sighting, or a new revision: a new rollout starts from step 0."""
        return not self.started or self.status_revision != self.revision

    @property
    def terminal(self) -> bool:
        return self.state.phase in (Phase.PROMOTED, Phase.ROLLED_BACK)

    @property
    def evaluable(self) -> bool:
        """Due for a decision this tick: valid, live, started, nothing half done, not finished."""
        return (
            self.spec is not None
            and not self.deleting
            and not self.needs_start
            and self.intent is None
            and not self.terminal
        )


def key_of(body: Mapping[str, Any]) -> GateKey:
    metadata = body.get("metadata") or {}
    return GateKey(str(metadata.get("namespace", "")), str(metadata.get("name", "")))


@dataclass(frozen=True, slots=True)
class _FromSpec:
    """What a record takes from the spec, parsed once per generation."""

    spec: GateSpec | None
    problem: str | None
    revision: str | None
    provider: str
    traffic_settings: Mapping[str, Any]
    prometheus_address: str | None
    prometheus_timeout_seconds: float | None


def record_from(body: Mapping[str, Any], previous: GateRecord | None = None) -> GateRecord:
    """Build a record from a raw CanaryGate as the API server returns it. With `previous`
    (the same gate's record) of the same generation, the spec is not parsed again: most
    updates are status writes, and validating a spec costs more than all the rest."""
    metadata = body.get("metadata") or {}
    status = body.get("status") or {}
    generation = int(metadata.get("generation") or 0)
    uid = str(metadata.get("uid", ""))
    if previous is not None and previous.generation == generation and previous.uid == uid:
        parsed = _FromSpec(
            previous.spec,
            previous.problem,
            previous.revision,
            previous.provider,
            previous.traffic_settings,
            previous.prometheus_address,
            previous.prometheus_timeout_seconds,
        )
    else:
        parsed = _parse_spec(body)
    record = GateRecord(
        key=key_of(body),
        uid=uid,
        generation=generation,
        resource_version=str(metadata.get("resourceVersion", "")),
        deleting=bool(metadata.get("deletionTimestamp")),
        finalizers=tuple(str(f) for f in metadata.get("finalizers") or ()),
        spec=parsed.spec,
        problem=parsed.problem,
        revision=parsed.revision,
        provider=parsed.provider,
        traffic_settings=parsed.traffic_settings,
        prometheus_address=parsed.prometheus_address,
        prometheus_timeout_seconds=parsed.prometheus_timeout_seconds,
        # A rollout has started once its original routing is saved and its phase set; a
        # judge-only gate has no routing to save.
        started=status.get("phase") not in (None, str(Phase.INVALID))
        and (bool((status.get("traffic") or {}).get("original")) or parsed.provider in JUDGE_ONLY),
        status_revision=status.get("revision"),
        state=state_from_status(status),
        intent=intent_from_status(status.get("intent")),
        last_evaluation=_time(status.get("lastEvaluationTime")),
        observed_generation=_int_or_none(status.get("observedGeneration")),
        conditions={
            str(c.get("type")): (str(c.get("status")), str(c.get("reason")))
            for c in status.get("conditions") or []
            if isinstance(c, Mapping)
        },
        digest=significant(status),
        health=status.get("health"),
        approvals=approvals_of(metadata),
        approval_key=(status.get("approval") or {}).get("key"),
        approval_since=(status.get("approval") or {}).get("waitingSince"),
    )
    if previous is not None and parsed.spec is previous.spec:
        record._planned = previous._planned  # same spec, same queries
    return record


def _parse_spec(body: Mapping[str, Any]) -> _FromSpec:
    spec: GateSpec | None = None
    problem: str | None = None
    revision: str | None = None
    traffic: Mapping[str, Any] = {}
    address: str | None = None
    timeout: float | None = None
    try:
        # Only what the user wrote is validated; the status is ours and read leniently below.
        gate = parse_gate(
            {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body},
            source="CanaryGate",
        )
        spec = to_gate_spec(gate)
        revision = gate.spec.canary.revision
        traffic = gate.spec.canary.traffic.model_dump(by_alias=True, exclude_none=True)
        if gate.spec.prometheus is not None:
            address = gate.spec.prometheus.address
            timeout = parse_duration(gate.spec.prometheus.timeout).seconds
        # The traffic block is checked now, not at the first move: a block that cannot work
        # (the same Service as stable and canary, say) makes the gate Invalid up front.
        backend_for(
            str(traffic.get("provider", "")),
            gate.namespace,
            traffic.get(str(traffic.get("provider", ""))) or {},
        )
    except SpecError as error:
        spec, problem = None, f"{error.field}: {error.message}"
    provider = str(traffic.get("provider", ""))
    return _FromSpec(
        spec,
        problem,
        revision,
        provider,
        dict(traffic.get(provider) or {}),
        address,
        timeout,
    )


def approvals_of(metadata: Mapping[str, Any]) -> frozenset[str]:
    """The approvals given on a gate (see core.approval)."""
    value = (metadata.get("annotations") or {}).get(APPROVE_ANNOTATION)
    return approvals_given(value if isinstance(value, str) else None)


def state_from_status(status: Mapping[str, Any]) -> GateState:
    """The core's memory as the status holds it; a status we cannot read starts afresh."""
    try:
        phase = Phase(status.get("phase") or Phase.PENDING)
    except ValueError:
        phase = Phase.PENDING
    failures = {
        str(g.get("name")): int(g.get("consecutiveFailures") or 0)
        for g in status.get("guardrails") or []
        if isinstance(g, Mapping)
    }
    return GateState(
        weight=_clamp_weight(status.get("weight")),
        phase=phase,
        consecutive_passes=max(0, _int_or_none(status.get("consecutivePasses")) or 0),
        guardrail_failures=failures,
    )


def intent_from_status(raw: Any) -> Intent | None:
    if not isinstance(raw, Mapping):
        return None
    decided = _time(raw.get("decidedAt"))
    if decided is None:
        return None
    revision = raw.get("revision")
    return Intent(
        action=str(raw.get("action", "")),
        weight_from=_clamp_weight(raw.get("fromWeight")),
        weight_to=_clamp_weight(raw.get("toWeight")),
        revision=None if revision is None else str(revision),
        decided_at=decided,
    )


def _clamp_weight(value: Any) -> int:
    number = _int_or_none(value)
    return 0 if number is None else min(100, max(0, number))


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
