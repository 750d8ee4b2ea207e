"""An in-memory stand-in for canarygate.kube's KubeApi, for unit tests of the rollout logic.

It keeps the API server's rules that the operator relies on: resourceVersions move on every
write, a write naming an old resourceVersion conflicts, a merge patch deletes keys set to
None, a gate being deleted disappears when its last finalizer goes. `crash_on` simulates the
operator being killed: the n-th call of a method raises Killed (a BaseException, so nothing
in the operator catches it), after (or instead of) doing its work.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canarygate.kube import Conflict, GateRef, NotFound
from canarygate.traffic import ObjectRef


class Killed(BaseException):
    """The operator process died here."""


@dataclass
class Crash:
    method: str
    call: int = 1  # which call of that method dies (1 = the first)
    after: bool = True  # die after the call took effect (else before)


def merge(target: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@dataclass
class FakeCluster:
    gates: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    objects: dict[ObjectRef, dict[str, Any]] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    writes: list[str] = field(default_factory=list)  # method names of every write, in order
    crash: Crash | None = None
    _versions: itertools.count[int] = field(default_factory=lambda: itertools.count(100))
    _calls: dict[str, int] = field(default_factory=dict)

    # -- setup --------------------------------------------------------------------------
    def add_gate(self, body: dict[str, Any]) -> dict[str, Any]:
        body = copy.deepcopy(body)
        metadata = body.setdefault("metadata", {})
        metadata.setdefault("uid", f"uid-{metadata['name']}")
        metadata.setdefault("generation", 1)
        metadata["resourceVersion"] = str(next(self._versions))
        self.gates[(metadata["namespace"], metadata["name"])] = body
        return copy.deepcopy(body)

    def add_object(self, ref: ObjectRef, body: dict[str, Any]) -> None:
        body = copy.deepcopy(body)
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[ref] = body

    def gate(self, namespace: str, name: str) -> dict[str, Any]:
        return copy.deepcopy(self.gates[(namespace, name)])

    def status(self, namespace: str, name: str) -> dict[str, Any]:
        return dict(self.gates[(namespace, name)].get("status") or {})

    # -- crash points ---------------------------------------------------------------------
    def _enter(self, method: str) -> bool:
        count = self._calls[method] = self._calls.get(method, 0) + 1
        dies = self.crash is not None and self.crash.method == method and self.crash.call == count
        if dies and self.crash is not None and not self.crash.after:
            self.crash = None
            raise Killed(f"killed before {method} #{count}")
        return dies

    def _leave(self, method: str, dies: bool) -> None:
        if dies:
            self.crash = None
            raise Killed(f"killed after {method}")

    # -- the KubeApi surface ------------------------------------------------------------
    async def get_gate(self, namespace: str, name: str) -> dict[str, Any]:
        if (namespace, name) not in self.gates:
            raise NotFound(f"canarygate {namespace}/{name} not found")
        return self.gate(namespace, name)

    async def patch_gate_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]:
        dies = self._enter("patch_gate_status")
        body = self.gates[(namespace, name)]
        if body["metadata"]["resourceVersion"] != resource_version:
            raise Conflict(f"status of {namespace}/{name}: resourceVersion changed")
        merge(body.setdefault("status", {}), status)
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        self.writes.append("patch_gate_status")
        self._leave("patch_gate_status", dies)
        return self.gate(namespace, name)

    async def set_gate_finalizers(
        self, namespace: str, name: str, finalizers: list[str], *, resource_version: str
    ) -> dict[str, Any]:
        dies = self._enter("set_gate_finalizers")
        body = self.gates[(namespace, name)]
        if body["metadata"]["resourceVersion"] != resource_version:
            raise Conflict(f"{namespace}/{name}: resourceVersion changed")
        body["metadata"]["finalizers"] = list(finalizers)
        body["metadata"]["resourceVersion"] = str(next(self._versions))
        self.writes.append("set_gate_finalizers")
        result = self.gate(namespace, name)
        if body["metadata"].get("deletionTimestamp") and not finalizers:
            del self.gates[(namespace, name)]
        self._leave("set_gate_finalizers", dies)
        return result

    async def read_objects(self, refs: Any) -> dict[Any, dict[str, Any]]:
        return {ref: copy.deepcopy(self.objects[ref]) for ref in refs if ref in self.objects}

    async def replace_object(self, ref: Any, body: Mapping[str, Any]) -> dict[str, Any]:
        dies = self._enter("replace_object")
        live = self.objects.get(ref)
        if live is None:
            raise NotFound(f"{ref} not found")
        if live["metadata"]["resourceVersion"] != body["metadata"]["resourceVersion"]:
            raise Conflict(f"{ref}: resourceVersion changed")
        stored = copy.deepcopy(dict(body))
        stored["metadata"]["resourceVersion"] = str(next(self._versions))
        self.objects[ref] = stored
        self.writes.append("replace_object")
        self._leave("replace_object", dies)
        return copy.deepcopy(stored)

    async def emit_event(
        self, gate: GateRef, *, type: str, reason: str, message: str, action: str | None = None
    ) -> None:
        self.events.append((type, reason, message))

    def reasons(self) -> list[str]:
        return [reason for _, reason, _ in self.events]
