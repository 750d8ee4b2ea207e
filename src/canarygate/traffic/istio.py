"""Istio: canary weights as destination weights in the http routes of one VirtualService
(`networking.istio.io/v1`).

With `route` set, only the http route of that name is managed; otherwise every http route
that has both a stable and a canary destination. A destination is the stable (canary) one
when its host names `stableHost` (`canaryHost`), short or fully qualified
(`checkout`, `checkout.shop.svc`, `checkout.shop.svc.cluster.local` are one Service), and,
when `stableSubset` (`canarySubset`) is set, its subset is that one. One host with two
subsets is the classic Istio canary; then both subsets are required.

Canary weight w is stable 100-w and canary w. An omitted weight is 0, as Istio reads it
when a route has several destinations. Other http routes, destinations, matches, retries
and mirrors are never touched. Istio weights are relative, so a third destination in a
managed route keeps its own share; w is the canary's share between stable and canary.

GitOps: only the two `weight` fields change, plus the MANAGED_LABEL label (see `base`);
Argo CD can ignore them with the jq path `.spec.http[].route[].weight`. check_weight
says cannot-tell while `status.observedGeneration` (written when istiod status is on)
lags behind the VirtualService's generation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from canarygate.core.errors import SpecError
from canarygate.traffic._objects import as_generation, generation, mapping, mappings
from canarygate.traffic._pairs import Pair, PairedRoutes
from canarygate.traffic.base import ObjectRef
from canarygate.traffic.errors import TargetInvalid

FIELD = "spec.canary.traffic.istio"


def _service(host: str, namespace: str) -> tuple[str, str] | None:
    """(service, namespace) for a Kubernetes Service host, short or qualified; None for any
    other host name, which then only matches itself. Istio reads a short name in the
    namespace of the VirtualService."""
    labels = host.split(".")
    if len(labels) == 1:
        return labels[0], namespace
    if len(labels) >= 3 and labels[2] == "svc":
        return labels[0], labels[1]
    return None


def same_host(one: str, other: str, namespace: str) -> bool:
    service = _service(one, namespace)
    return one == other or (service is not None and service == _service(other, namespace))


@dataclass(frozen=True)
class IstioBackend(PairedRoutes):
    provider: ClassVar[str] = "istio"
    default_weight: ClassVar[int] = 0
    object_field: ClassVar[str] = f"{FIELD}.virtualService"
    entry_nouns: ClassVar[tuple[str, str]] = ("http route", "http routes")

    namespace: str
    virtual_service: str
    stable_host: str
    canary_host: str
    route: str | None = None
    stable_subset: str | None = None
    canary_subset: str | None = None

    def __post_init__(self) -> None:
        if not same_host(self.stable_host, self.canary_host, self.namespace):
            return
        if self.stable_subset is None or self.canary_subset is None:
            raise SpecError(
                FIELD,
                f"stableHost and canaryHost are the same Service ({self.canary_host!r}): "
                "set stableSubset and canarySubset to tell the destinations apart",
            )
        if self.stable_subset == self.canary_subset:
            raise SpecError(
                f"{FIELD}.canarySubset",
                f"the canary destination must differ from the stable one "
                f"({self.canary_host!r} subset {self.canary_subset!r})",
            )

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(
            "networking.istio.io", "v1", "VirtualService", "virtualservices",
            self.namespace, self.virtual_service,
        )  # fmt: skip

    @property
    def stable_name(self) -> str:
        return _describe(self.stable_host, self.stable_subset)

    @property
    def canary_name(self) -> str:
        return _describe(self.canary_host, self.canary_subset)

    def _is(self, entry: Mapping[str, Any], host: str, subset: str | None) -> bool:
        destination = mapping(entry.get("destination"))
        found = destination.get("host")
        return (
            isinstance(found, str)
            and same_host(found, host, self.namespace)
            and (subset is None or destination.get("subset") == subset)
        )

    def _pair(self, where: str, http: Mapping[str, Any]) -> Pair | None:
        entries = mappings(http.get("route"))
        stable = [e for e in entries if self._is(e, self.stable_host, self.stable_subset)]
        canary = [e for e in entries if self._is(e, self.canary_host, self.canary_subset)]
        if not stable or not canary:
            return None
        for name, named in ((self.stable_name, stable), (self.canary_name, canary)):
            if len(named) > 1:
                raise TargetInvalid(
                    f"{self.ref} {where} has {len(named)} destinations matching {name}; "
                    "keep one, or set the subsets, so canarygate knows which weight to set"
                )
        return Pair(where, stable[0], canary[0])

    def pairs(self, body: dict[str, Any]) -> list[Pair]:
        http = mapping(body.get("spec")).get("http")
        routes = [
            (index, item)
            for index, item in enumerate(http if isinstance(http, list) else [])
            if isinstance(item, dict)
        ]
        wanted = "the canary destination with weight 0 next to the stable one"
        if self.route is not None:
            named = [(index, item) for index, item in routes if item.get("name") == self.route]
            if not named:
                names = ", ".join(repr(item.get("name")) for _, item in routes) or "none"
                raise TargetInvalid(
                    f"{self.ref} has no http route named {self.route!r} (found: {names}); "
                    f"fix {FIELD}.route"
                )
            routes = named
        found = [
            pair
            for index, item in routes
            if (pair := self._pair(f"spec.http[{index}]", item)) is not None
        ]
        if not found:
            where = (
                f"http route {self.route!r} has no destinations"
                if self.route is not None
                else "has no http route with destinations"
            )
            raise TargetInvalid(
                f"{self.ref} {where} {self.stable_name} and {self.canary_name}; add {wanted}"
            )
        return found

    def unobserved(self, body: Mapping[str, Any]) -> str | None:
        current = generation(body)
        seen = as_generation(mapping(body.get("status")).get("observedGeneration"))
        if current is None or seen is None or seen >= current:
            return None
        return f"istiod has reconciled generation {seen} of {self.ref}, not yet {current}"


def _describe(host: str, subset: str | None) -> str:
    return host if subset is None else f"{host} subset {subset}"
