"""What the demo and the latency benchmark read and write through the Kubernetes API: their
namespace, the CanaryGates (status and Events), a route's live canary weight, a new
revision, and the teardown that never leaves a namespace stuck on a finalizer.

Plain dicts as the API server returns them; one lightkube client per thread (the pollers of
the latency probe each make their own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightkube import ApiError, Client, KubeConfig
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event, Namespace, ServiceAccount
from lightkube.types import PatchType

from lab.simulator.polling import Target, kubernetes_getter, read_weight, traffic_backend

CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")
NOT_FOUND = 404
FIELD_MANAGER = "canarygate-demo"


def _body(obj: Any) -> dict[str, Any]:
    body: dict[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
    return body


class Kube:
    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.client = Client(config=KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)

    def close(self) -> None:
        self.client.close()

    # -- the namespace ----------------------------------------------------------------------
    def create_namespace(self, name: str, *, timeout: float = 60.0) -> None:
        """Create it and wait for its default ServiceAccount (the controller manager's sign
        that the namespace is usable)."""
        self.client.create(Namespace(metadata=ObjectMeta(name=name)))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.client.get(ServiceAccount, "default", namespace=name)
                return
            except ApiError as error:
                if error.status.code != NOT_FOUND:
                    raise
            time.sleep(0.2)
        raise TimeoutError(f"namespace {name}: no default ServiceAccount after {timeout:.0f}s")

    # -- gates --------------------------------------------------------------------------------
    def gates(self, namespace: str) -> dict[str, dict[str, Any]]:
        return {
            str(body["metadata"]["name"]): body
            for body in map(_body, self.client.list(CanaryGate, namespace=namespace))
        }

    def gate(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return _body(self.client.get(CanaryGate, name, namespace=namespace))
        except ApiError as error:
            if error.status.code == NOT_FOUND:
                return None
            raise

    def gate_events(self, namespace: str) -> list[dict[str, Any]]:
        """The core/v1 Events canarygate posted about the namespace's CanaryGates."""
        events = self.client.list(
            Event, namespace=namespace, fields={"involvedObject.kind": "CanaryGate"}
        )
        return [_body(event) for event in events]

    def set_revision(self, namespace: str, name: str, revision: str) -> None:
        """A new spec.canary.revision: the operator starts a new rollout from 0 %."""
        self.client.patch(
            CanaryGate,
            name,
            {"spec": {"canary": {"revision": revision}}},
            namespace=namespace,
            patch_type=PatchType.MERGE,
        )

    # -- teardown -----------------------------------------------------------------------------
    def delete_namespace(
        self,
        namespace: str,
        *,
        operator_alive: Callable[[], bool],
        say: Callable[[str], None],
        timeout: float = 20.0,
    ) -> None:
        """Delete the gates first, while the operator can still restore their routes and
        drop its finalizer; if it cannot (it died, or it is too slow), drop the finalizer
        here, since the routes go with the namespace anyway. Then the namespace itself."""
        try:
            names = list(self.gates(namespace))
        except ApiError as error:
            if error.status.code == NOT_FOUND:
                return
            raise
        for name in names:
            self._ignore_missing(self.client.delete, CanaryGate, name, namespace=namespace)
        deadline = time.monotonic() + timeout
        while names and operator_alive() and time.monotonic() < deadline:
            names = [n for n in names if self.gate(namespace, n) is not None]
            time.sleep(0.2)
        for name in names:
            if self.gate(namespace, name) is not None:
                why = "did not remove it in time" if operator_alive() else "has stopped"
                say(f"gate {name}: the operator {why}; removing its finalizer here")
                self._ignore_missing(
                    self.client.patch,
                    CanaryGate,
                    name,
                    {"metadata": {"finalizers": None}},
                    namespace=namespace,
                    patch_type=PatchType.MERGE,
                )
        self._ignore_missing(self.client.delete, Namespace, namespace)

    @staticmethod
    def _ignore_missing(call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        try:
            call(*args, **kwargs)
        except ApiError as error:
            if error.status.code != NOT_FOUND:
                raise


def route_weight_reader(
    kubeconfig: Path, namespace: str, gateway_api: Mapping[str, str]
) -> Callable[[], float]:
    """A function reading the canary percent of a gate's HTTPRoute now, as canarygate reads
    it; it owns a client of its own, for a polling thread."""
    client = Client(config=KubeConfig.from_file(kubeconfig), field_manager=FIELD_MANAGER)
    target = Target(
        "gatewayAPI",
        namespace,
        gateway_api["httpRoute"],
        gateway_api["stableBackend"],
        gateway_api["canaryBackend"],
    )
    backend = traffic_backend(target)
    get = kubernetes_getter(client)
    return lambda: read_weight(backend, get)
