"""Names of things on the API server: the CanaryGate resource, references to a gate and to
any namespaced object, and the URL paths and human-readable targets built from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

GROUP = "canarygate.io"
VERSION = "v1alpha1"
PLURAL = "canarygates"
KIND = "CanaryGate"
API_VERSION = f"{GROUP}/{VERSION}"


@dataclass(frozen=True, slots=True)
class GateRef:
    """One CanaryGate as an Event's involvedObject names it."""

    namespace: str
    name: str
    uid: str
    resource_version: str = ""

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> GateRef:
        metadata = body.get("metadata") or {}
        return cls(
            namespace=str(metadata.get("namespace", "")),
            name=str(metadata.get("name", "")),
            uid=str(metadata.get("uid", "")),
            resource_version=str(metadata.get("resourceVersion", "")),
        )


class ObjectRefLike(Protocol):
    """What `canarygate.traffic.ObjectRef` provides: any namespaced object, core or custom."""

    @property
    def group(self) -> str: ...  # "" for the core group
    @property
    def version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def name(self) -> str: ...


def api_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


def collection_path(group: str, version: str, plural: str, namespace: str | None) -> str:
    """`/apis/G/V[/namespaces/NS]/PLURAL` (`/api/V/...` for the core group); no namespace
    means across all namespaces."""
    base = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace is not None:
        base += f"/namespaces/{quote(namespace, safe='')}"
    return f"{base}/{plural}"


def object_path(
    group: str, version: str, plural: str, namespace: str, name: str, subresource: str = ""
) -> str:
    path = f"{collection_path(group, version, plural, namespace)}/{quote(name, safe='')}"
    return f"{path}/{subresource}" if subresource else path


def target(group: str, plural: str, namespace: str | None, name: str = "", sub: str = "") -> str:
    """How errors and logs name an object: `canarygates.canarygate.io/status shop/checkout`."""
    resource = f"{plural}.{group}" if group else plural
    if sub:
        resource += f"/{sub}"
    where = namespace if namespace is not None else "(all namespaces)"
    return f"{resource} {where}/{name}" if name else f"{resource} {where}"


def ref_path(ref: ObjectRefLike) -> str:
    return object_path(ref.group, ref.version, ref.plural, ref.namespace, ref.name)


def ref_target(ref: ObjectRefLike) -> str:
    return target(ref.group, ref.plural, ref.namespace, ref.name)
