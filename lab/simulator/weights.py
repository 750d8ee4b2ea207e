"""Read the canary's traffic share (percent, 0..100) out of each kind of traffic object.

Pure functions over the object as a JSON-like mapping, one per provider, so they are tested
without a cluster. Each raises WeightUnavailable when the object does not say (missing
backends, malformed numbers); callers must not treat that as 0 %.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

NGINX_CANARY = "nginx.ingress.kubernetes.io/canary"
NGINX_CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
NGINX_CANARY_WEIGHT_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"


class WeightUnavailable(LookupError):
    """The traffic object does not determine a canary weight; the message says why."""


def _percent(canary: float, stable: float) -> float:
    total = canary + stable
    if total <= 0:
        # Both backends at weight 0 send no traffic at all; there is no share to report.
        raise WeightUnavailable("stable and canary weights are both 0")
    return 100.0 * canary / total


def _weight(value: Any, default: int, where: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WeightUnavailable(f"{where}: weight must be a non-negative integer, got {value!r}")
    return value


def _list(value: Any) -> Sequence[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def gateway_api_weight(route: Mapping[str, Any], stable: str, canary: str) -> float:
    """Gateway API HTTPRoute: the first rule whose backendRefs name the stable or canary
    Service; an omitted `weight` is 1 (the API's default)."""
    for index, rule in enumerate(_list(route.get("spec", {}).get("rules"))):
        refs = _list(rule.get("backendRefs"))
        names = {ref.get("name") for ref in refs}
        if stable not in names and canary not in names:
            continue
        where = f"spec.rules[{index}]"
        weights = dict.fromkeys((stable, canary), 0)
        for ref in refs:
            if ref.get("name") in weights:
                weights[str(ref["name"])] += _weight(ref.get("weight"), 1, where)
        return _percent(weights[canary], weights[stable])
    raise WeightUnavailable(f"no HTTPRoute rule has a backendRef named {stable!r} or {canary!r}")


def _istio_matches(destination: Mapping[str, Any], name: str) -> bool:
    host = str(destination.get("host", ""))
    # A destination is named by its subset (one host, two subsets) or by its host, in
    # short form or fully qualified (checkout-canary.shop.svc.cluster.local).
    return (
        destination.get("subset") == name or host == name or host.split(".", maxsplit=1)[0] == name
    )


def istio_weight(virtual_service: Mapping[str, Any], stable: str, canary: str) -> float:
    """Istio VirtualService: the first http route whose destinations include the stable or
    canary (by subset or host). A lone destination without `weight` takes 100 %."""
    for index, http in enumerate(_list(virtual_service.get("spec", {}).get("http"))):
        routes = _list(http.get("route"))
        where = f"spec.http[{index}]"
        weights = {stable: 0, canary: 0}
        matched = False
        for route in routes:
            destination = route.get("destination", {})
            if not isinstance(destination, Mapping):
                continue
            default = 100 if len(routes) == 1 else 0
            for name in (canary, stable):  # canary first: subset names can overlap hosts
                if _istio_matches(destination, name):
                    weights[name] += _weight(route.get("weight"), default, where)
                    matched = True
                    break
        if matched:
            return _percent(weights[canary], weights[stable])
    raise WeightUnavailable(
        f"no VirtualService http route has a destination {stable!r} or {canary!r}"
    )


def nginx_weight(canary_ingress: Mapping[str, Any]) -> float:
    """NGINX canary Ingress: canary-weight out of canary-weight-total (default 100) while
    the `canary` annotation is "true"; a canary Ingress switched off carries 0 %."""
    annotations = canary_ingress.get("metadata", {}).get("annotations") or {}
    if str(annotations.get(NGINX_CANARY, "")).lower() != "true":
        return 0.0
    try:
        weight = int(annotations.get(NGINX_CANARY_WEIGHT, "0"))
        total = int(annotations.get(NGINX_CANARY_WEIGHT_TOTAL, "100"))
    except ValueError as error:
        raise WeightUnavailable(f"canary weight annotation is not an integer: {error}") from None
    if total <= 0 or not weight >= 0:
        raise WeightUnavailable(f"canary-weight {weight} of total {total} is out of range")
    return 100.0 * min(weight, total) / total


def replicas_weight(stable: Mapping[str, Any], canary: Mapping[str, Any]) -> float:
    """Two Deployments behind one Service: traffic follows the ready pods, so the share
    is canary ready replicas over all ready replicas."""

    def ready(deployment: Mapping[str, Any]) -> int:
        value = (deployment.get("status") or {}).get("readyReplicas", 0)
        return _weight(value, 0, "status.readyReplicas")

    return _percent(ready(canary), ready(stable))
