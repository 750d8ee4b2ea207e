"""Replica ratio: two Deployments (`apps/v1`) behind one Service; traffic follows the ready
pods, so the canary's share is set by how many replicas each Deployment runs.

For canary weight w out of `totalReplicas` T: canary = ceil(T*w/100), at least 1 for
w > 0; stable = T - canary, but at least 1 until promotion at 100 (so a canary never takes
all the traffic before it is promoted). The real share is quantised: with T=4, 5 % runs
one canary pod, a quarter of the traffic. read_weight therefore reports the share of
ready pods, and check_weight compares replica counts, not percentages: verified only when
both Deployments have rolled out exactly the desired ready replicas, cannot-tell while
pods start, stop or roll.

Updates list the Deployment that grows before the one that shrinks, so capacity never
dips below T between the two writes. Only `spec.replicas` (and the MANAGED_LABEL label)
changes; Argo CD can ignore it with the JSON pointer `/spec/replicas`. A
HorizontalPodAutoscaler on either Deployment would fight these writes: do not use one
with this provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from canarygate.core.errors import SpecError
from canarygate.traffic._objects import (
    check_percent,
    generation,
    int_weight,
    label_of,
    lookup,
    mapping,
    mark_managed,
    put,
    put_label,
    saved,
    saved_label,
    thaw,
)
from canarygate.traffic.base import Body, ObjectRef, Objects, Update, WeightCheck
from canarygate.traffic.errors import SnapshotInvalid, TargetInvalid, WeightUnavailable

FIELD = "spec.canary.traffic.replicas"
# What Kubernetes runs when a Deployment omits spec.replicas.
DEFAULT_REPLICAS = 1
MAX_TOTAL = 1000


def replica_split(total: int, weight: int) -> tuple[int, int]:
    """(stable, canary) replicas for `weight` percent of `total`."""
    if weight == 0:
        return total, 0
    if weight == 100:
        return 0, total
    if total < 2:
        raise ValueError(f"totalReplicas {total} cannot run a stable and a canary pod")
    canary = min(max(-(-total * weight // 100), 1), total - 1)
    return total - canary, canary


def _status(body: Body, key: str) -> int:
    value = mapping(body.get("status")).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True)
class ReplicasBackend:
    provider: ClassVar[str] = "replicas"

    namespace: str
    stable_deployment: str
    canary_deployment: str
    total_replicas: int

    def __post_init__(self) -> None:
        total = self.total_replicas
        if isinstance(total, bool) or not isinstance(total, int) or not 1 <= total <= MAX_TOTAL:
            raise SpecError(
                f"{FIELD}.totalReplicas", f"must be an integer 1..{MAX_TOTAL}, got {total!r}"
            )
        if self.stable_deployment == self.canary_deployment:
            raise SpecError(
                f"{FIELD}.canaryDeployment",
                f"the canary Deployment must differ from the stable one "
                f"({self.stable_deployment!r})",
            )

    def _ref(self, name: str) -> ObjectRef:
        return ObjectRef("apps", "v1", "Deployment", "deployments", self.namespace, name)

    @property
    def stable(self) -> ObjectRef:
        return self._ref(self.stable_deployment)

    @property
    def canary(self) -> ObjectRef:
        return self._ref(self.canary_deployment)

    def targets(self) -> tuple[ObjectRef, ...]:
        return (self.stable, self.canary)

    def _bodies(self, objects: Objects) -> tuple[Body, Body]:
        return (
            lookup(objects, self.stable, f"{FIELD}.stableDeployment"),
            lookup(objects, self.canary, f"{FIELD}.canaryDeployment"),
        )

    def _split(self, weight: int) -> tuple[int, int]:
        weight = check_percent(weight)
        if 0 < weight < 100 and self.total_replicas < 2:
            raise TargetInvalid(
                f"totalReplicas {self.total_replicas} cannot run a stable and a canary pod "
                f"for {weight}%: set {FIELD}.totalReplicas to at least 2"
            )
        return replica_split(self.total_replicas, weight)

    def read_weight(self, objects: Objects) -> float:
        stable, canary = (_status(body, "readyReplicas") for body in self._bodies(objects))
        if stable + canary == 0:
            raise WeightUnavailable(f"neither {self.stable} nor {self.canary} has a ready replica")
        return 100.0 * canary / (stable + canary)

    def apply_weight(self, objects: Objects, weight: int) -> tuple[Update, ...]:
        desired = self._split(weight)
        grows: list[Update] = []
        shrinks: list[Update] = []
        for ref, body, replicas in zip(self.targets(), self._bodies(objects), desired, strict=True):
            now = _spec_replicas(ref, body)
            if now == replicas:
                continue
            new = thaw(body)
            new.setdefault("spec", {})["replicas"] = replicas
            mark_managed(new)
            (grows if replicas > now else shrinks).append(Update(ref, new))
        return (*grows, *shrinks)

    def check_weight(self, objects: Objects, weight: int) -> WeightCheck:
        desired = self._split(weight)
        bodies = self._bodies(objects)
        for ref, body, replicas in zip(self.targets(), bodies, desired, strict=True):
            now = _spec_replicas(ref, body)
            if now != replicas:
                return WeightCheck.mismatch(
                    f"{ref} asks for {now} replicas, not {replicas} for {weight}%"
                )
        for ref, body, replicas in zip(self.targets(), bodies, desired, strict=True):
            pending = _rolling(ref, body, replicas)
            if pending is not None:
                return WeightCheck.cannot_tell(pending)
        stable, canary = desired
        return WeightCheck.verified(
            f"{stable} stable and {canary} canary replicas ready for {weight}%"
        )

    def snapshot(self, objects: Objects) -> dict[str, Any]:
        saved_objects: dict[str, Any] = {"provider": self.provider}
        roles = ("stable", "canary")
        for role, ref, body in zip(roles, self.targets(), self._bodies(objects), strict=True):
            _spec_replicas(ref, body)  # refuse to save a count that could not be written back
            saved_objects[role] = {
                # Raw value; None records an omitted spec.replicas, omitted again on restore.
                "replicas": mapping(body.get("spec")).get("replicas"),
                "label": label_of(body),
            }
        return saved_objects

    def restore(self, objects: Objects, snapshot: Mapping[str, Any]) -> tuple[Update, ...]:
        data = saved(snapshot, self.provider)
        plans = [_saved_deployment(data.get(role)) for role in ("stable", "canary")]
        grows: list[Update] = []
        shrinks: list[Update] = []
        for ref, (replicas, label) in zip(self.targets(), plans, strict=True):
            if ref not in objects:
                continue  # deleted: nothing left to scale back
            original = thaw(lookup(objects, ref, FIELD))
            body = thaw(original)
            put(body.setdefault("spec", {}), "replicas", replicas)
            put_label(body, label)
            if body == original:
                continue
            now = int_weight(mapping(original.get("spec")).get("replicas"), DEFAULT_REPLICAS)
            later = DEFAULT_REPLICAS if replicas is None else replicas
            (grows if now is None or later > now else shrinks).append(Update(ref, body))
        return (*grows, *shrinks)


def _spec_replicas(ref: ObjectRef, body: Body) -> int:
    value = mapping(body.get("spec")).get("replicas")
    replicas = int_weight(value, DEFAULT_REPLICAS)
    if replicas is None:
        raise TargetInvalid(f"{ref} spec.replicas {value!r} is not a non-negative integer")
    return replicas


def _rolling(ref: ObjectRef, body: Body, replicas: int) -> str | None:
    """Why `ref` has not finished becoming `replicas` ready pods of its current template."""
    current = generation(body)
    seen = mapping(body.get("status")).get("observedGeneration")
    if current is not None and (not isinstance(seen, int) or seen < current):
        return f"{ref}: the Deployment controller has not yet seen generation {current}"
    counts = {key: _status(body, key) for key in ("replicas", "updatedReplicas", "readyReplicas")}
    if any(count != replicas for count in counts.values()):
        shown = ", ".join(f"{key} {count}" for key, count in counts.items())
        return f"{ref} is rolling: {shown}, want {replicas}"
    return None


def _saved_deployment(value: Any) -> tuple[int | None, str | None]:
    if not isinstance(value, Mapping):
        raise SnapshotInvalid(f"a saved Deployment must be an object, got {value!r}")
    replicas = value.get("replicas")
    if replicas is not None and int_weight(replicas, 0) is None:
        raise SnapshotInvalid(f"saved replicas {replicas!r} is not a non-negative integer")
    return replicas, saved_label(value)
