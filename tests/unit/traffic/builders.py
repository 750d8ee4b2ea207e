"""Live objects as `kubectl get -o json` prints them, with the fields around the weights
that a backend must leave alone (matches, filters, ports, parents, other annotations)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canarygate.traffic import MANAGED_LABEL, Objects, TrafficBackend

NS = "shop"


def metadata(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": NS,
        "uid": f"uid-{name}",
        "resourceVersion": "4711",
        "generation": 3,
        "labels": {"app.kubernetes.io/name": name},
        "annotations": {"owner": "team-checkout"},
        **extra,
    }


def backend_ref(name: str, weight: int | None = None, **extra: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "port": 8080, **extra}
    if weight is not None:
        ref["weight"] = weight
    return ref


def http_route(*rules: list[dict[str, Any]], status: Any = None) -> dict[str, Any]:
    route: dict[str, Any] = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata("checkout"),
        "spec": {
            "parentRefs": [{"name": "public"}],
            "hostnames": ["shop.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": f"/r{index}"}}],
                    "filters": [{"type": "RequestHeaderModifier"}],
                    "backendRefs": refs,
                }
                for index, refs in enumerate(rules)
            ],
        },
    }
    if status is not None:
        route["status"] = status
    return route


def destination(host: str, weight: int | None = None, subset: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"destination": {"host": host, "port": {"number": 8080}}}
    if subset is not None:
        entry["destination"]["subset"] = subset
    if weight is not None:
        entry["weight"] = weight
    return entry


def virtual_service(
    *routes: list[dict[str, Any]], names: list[str] | None = None
) -> dict[str, Any]:
    http = [{"route": route, "retries": {"attempts": 2}} for route in routes]
    for item, name in zip(http, names or [], strict=False):
        item["name"] = name
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata("checkout"),
        "spec": {"hosts": ["checkout"], "gateways": ["mesh"], "http": http},
    }


def ingress(annotations: Mapping[str, str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": metadata("checkout-canary"),
        "spec": {"ingressClassName": "nginx", "rules": [{"host": "shop.example.com"}]},
    }
    if annotations is None:
        del body["metadata"]["annotations"]
    else:
        body["metadata"]["annotations"] = {"owner": "team-checkout", **annotations}
    return body


def deployment(
    name: str, replicas: int | None, ready: int | None = None, *, rolled_out: bool = True
) -> dict[str, Any]:
    """A Deployment; `rolled_out` gives it the status of a finished rollout of `replicas`."""
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": name}}, "template": {}}
    if replicas is not None:
        spec["replicas"] = replicas
    status: dict[str, Any] = {}
    if rolled_out:
        count = 1 if replicas is None else replicas
        status = {"observedGeneration": 3, "replicas": count, "updatedReplicas": count}
        status["readyReplicas"] = count
    if ready is not None:
        status["readyReplicas"] = ready
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(name),
        "spec": spec,
        "status": status,
    }


def objects_for(backend: TrafficBackend, *bodies: Mapping[str, Any]) -> Objects:
    return dict(zip(backend.targets(), bodies, strict=True))


def labelled(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with canarygate's label added, as apply_weight leaves it."""
    body.setdefault("metadata", {}).setdefault("labels", {})[MANAGED_LABEL] = "true"
    return body
