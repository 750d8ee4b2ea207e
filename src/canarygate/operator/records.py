"""The operator's memory of one CanaryGate: a compact record, never the whole body.

A record holds what the scheduler needs every tick (the parsed spec, the state to decide
from, when the gate is due) and what tells whether a status write is needed (a digest of the
status' significant fields). Everything else is read from the API server when a write needs
it. Records are built from the raw objects the informer delivers; a spec the API server let
through but canarygate refuses is kept as `problem`, and such a gate is never actuated.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from canarygate.api.auditing import spec_fields
from canarygate.api.controls import controls_of
from canarygate.api.converting import to_gate_spec
from canarygate.api.loading import parse_gate
from canarygate.api.memory import check_records_from_status, freeze_from_status
from canarygate.api.status import significant
from canarygate.core.approval import APPROVE_ANNOTATION, approvals_given, promotion_approved
from canarygate.core.auditing import SpecChanges, compare
from canarygate.core.controls import (
    REVISION_CONTROLS,
    Control,
    ControlKind,
    ControlOutcome,
    Controls,
    applying,
    judge_controls,
)
from canarygate.core.durations import parse_duration
from canarygate.core.errors import SpecError
from canarygate.core.incidents import judge_clearance
from canarygate.core.queries import SHARED_PLANS, PlannedQuery, plan_queries
from canarygate.core.slow_windows import SlowWindow, plan_slow_windows
from canarygate.core.specs import (
    GateSpec,
    GuardrailSpec,
    HealthPolicy,
    JourneySpec,
    SuccessMetricSpec,
)
from canarygate.core.state import GateState
from canarygate.core.vocabulary import Enforcement, Phase
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
    # "promote" for a forced promotion (canarygate.io/promote), else None.
    control: str | None = None

    def to_status(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "action": self.action,
            "fromWeight": self.weight_from,
            "toWeight": self.weight_to,
            "revision": self.revision,
            "decidedAt": self.decided_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        }
        if self.control:
            found["control"] = self.control
        return found


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """A control as `status.controls` acknowledged it."""

    kind: ControlKind
    target: str | None
    by: str | None
    reason: str | None
    at: str | None
    applied: bool

    def same(self, control: Control) -> bool:
        return (self.target, self.by, self.reason, self.at) == (
            control.target,
            control.by,
            control.reason,
            control.at,
        )


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
    # Manual controls given (annotations) and acknowledged (status.controls); the spec's
    # enforcement and the one this rollout started with (a change starts a new rollout).
    controls: tuple[Control, ...] = ()
    acknowledged: tuple[Acknowledged, ...] = ()
    enforcement: Enforcement = Enforcement.ACT
    status_enforcement: Enforcement | None = None
    # The audit of spec edits (core.auditing): this spec's fields, the generation whose
    # fields the status keeps (status.specAudit), and what changed since, when it differs.
    audit_fields: Mapping[str, str] | None = None
    audited_generation: int | None = None
    edit: SpecChanges | None = None
    # Scheduling, in memory only.
    due: float = 0.0
    failures: int = 0
    busy: bool = False
    last_drift_check: float = 0.0
    # When this gate was last due (monotonic): the next evaluation is one interval after
    # it, so time spent processing never stretches the rhythm.
    last_due: float | None = None
    notes: dict[str, str] = field(default_factory=dict)  # last Event reason per topic
    # A change (an approval, a control) arrived while the gate was busy: see it again at once.
    poked: bool = False
    # A judge-only gate: the weight its latest caller reported (in memory until the next
    # status write records it as status.weight).
    reported_weight: int | None = None
    _planned: tuple[PlannedQuery, ...] | None = None
    _slow: tuple[SlowWindow, ...] | None = None

    @property
    def planned(self) -> tuple[PlannedQuery, ...]:
        """The gate's queries, planned once per spec (they change only with it)."""
        plan = self._planned
        if plan is None and self.spec is not None:
            # Gates with equal plans hold one tuple, so that a tick observes it once.
            plan = self._planned = cast(tuple[PlannedQuery, ...], _shared(plan_queries(self.spec)))
        return plan or ()

    @property
    def slow(self) -> tuple[SlowWindow, ...]:
        """The gate's slow windows that may be answered from earlier readings, once per spec."""
        found = self._slow
        if found is None and self.spec is not None:
            found = self._slow = cast(tuple[SlowWindow, ...], _shared(plan_slow_windows(self.spec)))
        return found or ()

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
        """A first sighting, a new revision, or a new enforcement (act or observe): a new
        rollout starts from step 0. A status written before enforcement existed acted."""
        recorded = self.status_enforcement or Enforcement.ACT
        return (
            not self.started
            or self.status_revision != self.revision
            or recorded is not self.enforcement
        )

    @property
    def observing(self) -> bool:
        """`spec.enforcement: observe`: decide, record, notify; never write a routing object."""
        return self.enforcement is Enforcement.OBSERVE

    def control_outcomes(self) -> tuple[ControlOutcome, ...]:
        """What each control given does now: the revision controls, then the clearance."""
        outcomes = judge_controls(self.controls, self.revision, self.state.phase)
        clearances = tuple(
            judge_clearance(c, self.state.freeze)
            for c in self.controls
            if c.kind is ControlKind.CLEAR_FREEZE
        )
        return (*outcomes, *clearances)

    @property
    def decide_controls(self) -> Controls:
        """What `decide` takes: the pause in force, the clearances given, and whether this
        revision's promotion was approved."""
        return Controls(
            pause=applying(judge_controls(self.controls, self.revision, self.state.phase),
                           ControlKind.PAUSE),
            clearances=tuple(c for c in self.controls if c.kind is ControlKind.CLEAR_FREEZE),
            promotion_approved=promotion_approved(self.revision, self.approvals),
        )  # fmt: skip

    def acknowledged_of(self, kind: ControlKind) -> Acknowledged | None:
        return next((a for a in self.acknowledged if a.kind is kind), None)

    def unacknowledged(self) -> tuple[ControlOutcome, ...]:
        """Controls whose current effect status does not say yet: new ones, and those whose
        effect changed because the revision did (a pause for the last revision is now
        ignored). A forced move that finished the rollout is not acknowledged again as
        ignored: it did its work."""
        found = []
        for outcome in self.control_outcomes():
            known = self.acknowledged_of(outcome.control.kind)
            if (
                known is None
                or not known.same(outcome.control)
                or (
                    known.applied != outcome.applies
                    and (
                        outcome.applies
                        or (
                            outcome.control.kind in REVISION_CONTROLS
                            and outcome.control.target != (self.revision or "")
                        )
                    )
                )
            ):
                found.append(outcome)
        return tuple(found)

    def urgent_control(self) -> ControlOutcome | None:
        """An abort or a forced promotion that applies and was not carried out yet: it is
        acted on at once, without waiting for an evaluation."""
        for outcome in self.unacknowledged():
            if outcome.applies and outcome.control.kind in (ControlKind.ABORT, ControlKind.PROMOTE):
                return outcome
        return None

    def resumed(self) -> bool:
        """The pause status acknowledged no longer holds: its annotation is gone."""
        known = self.acknowledged_of(ControlKind.PAUSE)
        return (
            known is not None
            and known.applied
            and not any(c.kind is ControlKind.PAUSE for c in self.controls)
        )

    @property
    def terminal(self) -> bool:
        return self.state.phase in (Phase.PROMOTED, Phase.ROLLED_BACK)

    @property
    def audit_due(self) -> bool:
        """The spec changed since the status last recorded its fields (or they never were):
        record the edit, or take the fields, before deciding on the new spec."""
        return (
            self.spec is not None
            and self.audit_fields is not None
            and self.started
            and not self.needs_start
            and self.audited_generation != self.generation
            and "spec-audit" not in self.notes  # its status cannot keep the fields
        )

    @property
    def in_rollout(self) -> bool:
        return self.started and not self.needs_start and not self.terminal

    @property
    def evaluable(self) -> bool:
        """Due for a decision this tick: valid, live, started, nothing half done, not finished."""
        return (
            self.spec is not None
            and not self.deleting
            and not self.needs_start
            and self.intent is None
            and not self.terminal
            and self.urgent_control() is None
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
    enforcement: Enforcement = Enforcement.ACT
    audit_fields: Mapping[str, str] | None = None


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
            previous.enforcement,
            previous.audit_fields,
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
        controls=controls_of(metadata),
        acknowledged=acknowledged_of(status.get("controls")),
        enforcement=parsed.enforcement,
        status_enforcement=_enforcement(status.get("enforcement")),
        audit_fields=parsed.audit_fields,
    )
    _audit(record, status.get("specAudit"))
    if previous is not None and parsed.spec is previous.spec:
        record._planned = previous._planned  # same spec, same queries
        record._slow = previous._slow
    return record


def _audit(record: GateRecord, audit: Any) -> None:
    """What the spec's edit changed since the fields the status keeps; a looser rule during a
    rollout restarts the count of passes at once, so the decision of this very tick cannot
    take a step on passes earned under the old rule (the status is written next)."""
    if not isinstance(audit, Mapping):
        return
    record.audited_generation = _int_or_none(audit.get("generation"))
    fields = audit.get("fields")
    if not record.audit_due or record.audit_fields is None or not isinstance(fields, Mapping):
        return
    record.edit = compare({str(k): str(v) for k, v in fields.items()}, record.audit_fields)
    if record.in_rollout and record.edit.loosened:
        record.state = replace(record.state, consecutive_passes=0)


def _parse_spec(body: Mapping[str, Any]) -> _FromSpec:
    spec: GateSpec | None = None
    problem: str | None = None
    revision: str | None = None
    traffic: Mapping[str, Any] = {}
    address: str | None = None
    timeout: float | None = None
    audit_fields: Mapping[str, str] | None = None
    try:
        # Only what the user wrote is validated; the status is ours and read leniently below.
        gate = parse_gate(
            {k: body[k] for k in ("apiVersion", "kind", "metadata", "spec") if k in body},
            source="CanaryGate",
        )
        spec = _shared_parts(to_gate_spec(gate))
        audit_fields = spec_fields(gate)
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
        audit_fields = None
    provider = str(traffic.get("provider", ""))
    return _FromSpec(
        spec,
        problem,
        revision,
        provider,
        dict(traffic.get(provider) or {}),
        address,
        timeout,
        spec.enforcement if spec is not None else Enforcement.ACT,
        audit_fields,
    )


@functools.lru_cache(maxsize=SHARED_PLANS)
def _shared(part: Hashable) -> Hashable:
    """The first part equal to `part` that was seen (an intern table for frozen specs)."""
    return part


def _shared_parts(spec: GateSpec) -> GateSpec:
    """`spec` holding the same journey, guardrail and policy objects as every other gate with
    equal ones: 10,000 gates drawing on a few dozen journeys hold each of them once."""
    canary = spec.canary
    return replace(
        spec,
        journeys=tuple(cast(JourneySpec, _shared(j)) for j in spec.journeys),
        health=cast(HealthPolicy, _shared(spec.health)),
        canary=replace(
            canary,
            guardrails=tuple(cast(GuardrailSpec, _shared(g)) for g in canary.guardrails),
            success_metrics=tuple(
                cast(SuccessMetricSpec, _shared(m)) for m in canary.success_metrics
            ),
        ),
    )


def approvals_of(metadata: Mapping[str, Any]) -> frozenset[str]:
    """The approvals given on a gate (see core.approval)."""
    value = (metadata.get("annotations") or {}).get(APPROVE_ANNOTATION)
    return approvals_given(value if isinstance(value, str) else None)


def acknowledged_of(raw: Any) -> tuple[Acknowledged, ...]:
    """The controls `status.controls` acknowledges (entries it cannot read are skipped)."""
    found = []
    for entry in raw or ():
        if not isinstance(entry, Mapping):
            continue
        try:
            kind = ControlKind(str(entry.get("type")))
        except ValueError:
            continue
        texts = [entry.get(k) for k in ("revision", "by", "reason", "requestedAt")]
        target, by, reason, at = (t if isinstance(t, str) else None for t in texts)
        found.append(Acknowledged(kind, target, by, reason, at, entry.get("applied") is True))
    return tuple(found)


def _enforcement(value: Any) -> Enforcement | None:
    try:
        return Enforcement(value) if isinstance(value, str) else None
    except ValueError:
        return None


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
        freeze=freeze_from_status(status.get("freeze")),
        checks=check_records_from_status(status.get("checks")),
    )


def intent_from_status(raw: Any) -> Intent | None:
    if not isinstance(raw, Mapping):
        return None
    decided = _time(raw.get("decidedAt"))
    if decided is None:
        return None
    revision = raw.get("revision")
    control = raw.get("control")
    return Intent(
        action=str(raw.get("action", "")),
        weight_from=_clamp_weight(raw.get("fromWeight")),
        weight_to=_clamp_weight(raw.get("toWeight")),
        revision=None if revision is None else str(revision),
        decided_at=decided,
        control=control if isinstance(control, str) else None,
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
