"""Writes only while this replica leads: every write to the Kubernetes API goes through here
and is refused (NotLeader) before it is sent when the replica does not hold the Lease.

With leader election, a replica that lost the Lease (a network partition, a pause) may
still have transitions in flight; refusing their writes keeps two replicas from ever acting
on one gate. Reads pass through. Without leader election the fence is always open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from canarygate.core.errors import NotLeader
from canarygate.kube import EventType, GateRef, KubeApi, ObjectRefLike


class FencedStore:
    def __init__(self, api: KubeApi, may_write: Callable[[], bool]) -> None:
        self._api = api
        self._may_write = may_write

    def _check(self, what: str) -> None:
        if not self._may_write():
            raise NotLeader(f"{what} refused: this replica does not hold the leader Lease")

    async def get_gate(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._api.get_gate(namespace, name)

    async def read_objects(self, refs: Iterable[Any]) -> dict[Any, dict[str, Any]]:
        return await self._api.read_objects(refs)

    async def patch_gate_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]:
        self._check(f"status of {namespace}/{name}")
        return await self._api.patch_gate_status(
            namespace, name, status, resource_version=resource_version
        )

    async def set_gate_finalizers(
        self, namespace: str, name: str, finalizers: list[str], *, resource_version: str
    ) -> dict[str, Any]:
        self._check(f"finalizers of {namespace}/{name}")
        return await self._api.set_gate_finalizers(
            namespace, name, finalizers, resource_version=resource_version
        )

    async def replace_object(self, ref: ObjectRefLike, body: Mapping[str, Any]) -> dict[str, Any]:
        self._check(f"update of {ref.kind} {ref.namespace}/{ref.name}")
        return await self._api.replace_object(ref, body)

    async def emit_event(
        self, gate: GateRef, *, type: EventType, reason: str, message: str
    ) -> None:
        if self._may_write():  # an Event is commentary: a standby says nothing, no error
            await self._api.emit_event(gate, type=type, reason=reason, message=message)
