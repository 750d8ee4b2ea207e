"""Traffic backends (pure): from live routing objects and a desired canary weight to the
updated objects (or none), a weight check (verified / mismatch / cannot-tell), and a
snapshot of the original routing to restore. No Kubernetes client, no I/O: the `kube`
package gets the objects of `targets()`, and sends the Updates with their resourceVersion.

`backend_for` is the only place that switches on provider names; see `base` for the
interface and the GitOps contract (only weights change; MANAGED_LABEL marks objects
canarygate has changed until `restore`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from canarygate.core.errors import SpecError
from canarygate.traffic.base import (
    MANAGED_LABEL,
    MANAGED_LABEL_VALUE,
    CheckOutcome,
    ObjectRef,
    Objects,
    TrafficBackend,
    Update,
    WeightCheck,
)
from canarygate.traffic.errors import (
    SnapshotInvalid,
    TargetInvalid,
    TargetMissing,
    WeightUnavailable,
)
from canarygate.traffic.external import ExternalBackend
from canarygate.traffic.gateway_api import GatewayApiBackend
from canarygate.traffic.istio import IstioBackend
from canarygate.traffic.nginx import NginxBackend
from canarygate.traffic.replicas import ReplicasBackend

__all__ = [
    "JUDGE_ONLY",
    "MANAGED_LABEL",
    "MANAGED_LABEL_VALUE",
    "PROVIDERS",
    "CheckOutcome",
    "ExternalBackend",
    "GatewayApiBackend",
    "IstioBackend",
    "NginxBackend",
    "ObjectRef",
    "Objects",
    "ReplicasBackend",
    "SnapshotInvalid",
    "TargetInvalid",
    "TargetMissing",
    "TrafficBackend",
    "Update",
    "WeightCheck",
    "WeightUnavailable",
    "backend_for",
]


class _Settings:
    """One provider block of `spec.canary.traffic`, read with errors naming the field."""

    def __init__(self, provider: str, settings: Mapping[str, Any]) -> None:
        self.field = f"spec.canary.traffic.{provider}"
        if not isinstance(settings, Mapping):
            raise SpecError(self.field, f"must be an object, got {settings!r}")
        self.settings = settings

    def text(self, key: str) -> str:
        value = self.settings.get(key)
        if not isinstance(value, str) or not value:
            raise SpecError(f"{self.field}.{key}", f"required, a name; got {value!r}")
        return value

    def optional_text(self, key: str) -> str | None:
        return None if self.settings.get(key) in (None, "") else self.text(key)

    def integer(self, key: str) -> int:
        value = self.settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(f"{self.field}.{key}", f"required, an integer; got {value!r}")
        return value


def _gateway_api(namespace: str, block: _Settings) -> TrafficBackend:
    return GatewayApiBackend(
        namespace,
        http_route=block.text("httpRoute"),
        stable_backend=block.text("stableBackend"),
        canary_backend=block.text("canaryBackend"),
    )


def _istio(namespace: str, block: _Settings) -> TrafficBackend:
    return IstioBackend(
        namespace,
        virtual_service=block.text("virtualService"),
        stable_host=block.text("stableHost"),
        canary_host=block.text("canaryHost"),
        route=block.optional_text("route"),
        stable_subset=block.optional_text("stableSubset"),
        canary_subset=block.optional_text("canarySubset"),
    )


def _nginx(namespace: str, block: _Settings) -> TrafficBackend:
    # `ingress` (the stable Ingress) is required by the CRD for the reader's sake but
    # never touched: ingress-nginx weighs traffic by the canary Ingress alone.
    return NginxBackend(namespace, canary_ingress=block.text("canaryIngress"))


def _replicas(namespace: str, block: _Settings) -> TrafficBackend:
    return ReplicasBackend(
        namespace,
        stable_deployment=block.text("stableDeployment"),
        canary_deployment=block.text("canaryDeployment"),
        total_replicas=block.integer("totalReplicas"),
    )


def _external(namespace: str, block: _Settings) -> TrafficBackend:
    return ExternalBackend(namespace)


_FACTORIES: dict[str, Callable[[str, _Settings], TrafficBackend]] = {
    "gatewayAPI": _gateway_api,
    "istio": _istio,
    "nginx": _nginx,
    "replicas": _replicas,
    "external": _external,
}
PROVIDERS = tuple(_FACTORIES)
# Providers whose traffic canarygate does not move: judge-only gates (see `external`).
JUDGE_ONLY = frozenset({ExternalBackend.provider})


def backend_for(provider: str, namespace: str, settings: Mapping[str, Any]) -> TrafficBackend:
    """The backend for `provider`, configured from its camelCase block of
    `spec.canary.traffic` (e.g. `{"httpRoute": ..., "stableBackend": ..., "canaryBackend":
    ...}` for gatewayAPI), for objects in `namespace` (the gate's). A block that cannot
    work raises SpecError naming the field."""
    factory = _FACTORIES.get(provider)
    if factory is None:
        raise SpecError(
            "spec.canary.traffic.provider",
            f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}",
        )
    if not namespace:
        raise SpecError("metadata.namespace", "a gate's traffic objects need a namespace")
    return factory(namespace, _Settings(provider, settings))
