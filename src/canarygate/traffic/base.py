"""The one interface every traffic backend implements, and the values it trades in.

A backend is pure. The caller (the `kube` package) gets each object of `targets()`,
passes them in as the JSON-like mappings `kubectl get -o json` prints (an object that does
not exist is left out of the mapping, and the backend answers TargetMissing), and sends
back every `Update` with its resourceVersion unchanged, so a concurrent writer makes the
update conflict instead of being overwritten; on conflict it re-reads and asks again.
Server-side apply is no option: HTTPRoute's `rules` is an atomic list, so a field manager
cannot own one weight inside it. Hence get / change only the weights / update.

    targets()                   the objects to read
    read_weight(objects)        the canary percent now, or WeightUnavailable (never a default 0)
    apply_weight(objects, w)    Updates for exactly the objects not yet at w; () when all are
    check_weight(objects, w)    verified | mismatch | cannot-tell, with the reason
    snapshot(objects)           a small JSON record of what canarygate will change
    restore(objects, snapshot)  Updates putting that back; () when already so

GitOps: a backend changes nothing but the weights (and MANAGED_LABEL), so another field
manager's edits to the rest of the object survive the next update, and a weight that
already gives the canary its share is left exactly as written (no drift, no write). It
adds MANAGED_LABEL to every object it changes and `restore` takes it away, so people and
tools can select the objects canarygate is steering right now
(`kubectl get httproutes -A -l canarygate.io/managed-weights`). To keep Argo CD from
reverting the weights, ignore only them, e.g. `jqPathExpressions:
[".spec.rules[].backendRefs[].weight"]` for HTTPRoutes; `managedFieldsManagers` is too
broad here, since HTTPRoute rules and VirtualService routes are atomic lists, so it would
hide every other change to them as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

# Set on every object whose weights canarygate has changed; removed again by restore().
MANAGED_LABEL = "canarygate.io/managed-weights"
MANAGED_LABEL_VALUE = "true"

Body = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class ObjectRef:
    """One namespaced Kubernetes object: enough to build its API path."""

    group: str
    version: str
    kind: str
    plural: str
    namespace: str
    name: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


Objects = Mapping[ObjectRef, Body]


@dataclass(frozen=True)
class Update:
    """The whole new body of one object: a deep copy of the live one with only the weights
    (and MANAGED_LABEL) changed, metadata.resourceVersion kept for optimistic concurrency."""

    ref: ObjectRef
    body: dict[str, Any]


class CheckOutcome(StrEnum):
    """Argo Rollouts' VerifyWeight answers: yes, no, and cannot tell yet."""

    VERIFIED = "verified"
    MISMATCH = "mismatch"
    CANNOT_TELL = "cannot-tell"


@dataclass(frozen=True)
class WeightCheck:
    """The answer of check_weight and the sentence explaining it (for status and Events)."""

    outcome: CheckOutcome
    reason: str

    @classmethod
    def verified(cls, reason: str) -> WeightCheck:
        return cls(CheckOutcome.VERIFIED, reason)

    @classmethod
    def mismatch(cls, reason: str) -> WeightCheck:
        return cls(CheckOutcome.MISMATCH, reason)

    @classmethod
    def cannot_tell(cls, reason: str) -> WeightCheck:
        return cls(CheckOutcome.CANNOT_TELL, reason)


class TrafficBackend(Protocol):
    """Reads and computes canary weights for one provider; see the module docstring."""

    @property
    def provider(self) -> str:
        """The provider name as spelled in `spec.canary.traffic.provider`."""
        ...

    def targets(self) -> tuple[ObjectRef, ...]: ...

    def read_weight(self, objects: Objects) -> float: ...

    def apply_weight(self, objects: Objects, weight: int) -> tuple[Update, ...]: ...

    def check_weight(self, objects: Objects, weight: int) -> WeightCheck: ...

    def snapshot(self, objects: Objects) -> dict[str, Any]: ...

    def restore(self, objects: Objects, snapshot: Mapping[str, Any]) -> tuple[Update, ...]: ...
