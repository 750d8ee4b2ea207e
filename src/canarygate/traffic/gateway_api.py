"""Gateway API: canary weights as backendRef weights in one HTTPRoute
(`gateway.networking.k8s.io/v1`).

A rule is managed when its backendRefs name both the stable and the canary Service (kind
Service in the core group, in the route's namespace). Every managed rule gets the same
split: canary weight w is stable 100-w and canary w. An omitted weight is 1, the API's
default. Other rules, other backendRefs, filters and matches are never touched; a rule
that routes to the stable Service alone (say `/admin`) stays on stable.

GitOps: only the two `weight` fields of managed rules change, plus the MANAGED_LABEL
label (see `base`); Argo CD can ignore them with the jq path
`.spec.rules[].backendRefs[].weight`. A weight that already gives the canary its share
(3:1 for 25 %) is left exactly as written.

check_weight says cannot-tell while a Gateway listed in `status.parents` has accepted an
older generation of the route than the one that carries the weight.
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

FIELD = "spec.canary.traffic.gatewayAPI"


@dataclass(frozen=True)
class GatewayApiBackend(PairedRoutes):
    provider: ClassVar[str] = "gatewayAPI"
    default_weight: ClassVar[int] = 1
    object_field: ClassVar[str] = f"{FIELD}.httpRoute"
    entry_nouns: ClassVar[tuple[str, str]] = ("rule", "rules")

    namespace: str
    http_route: str
    stable_backend: str
    canary_backend: str

    def __post_init__(self) -> None:
        if self.stable_backend == self.canary_backend:
            raise SpecError(
                f"{FIELD}.canaryBackend",
                f"the canary backend must differ from the stable one ({self.stable_backend!r})",
            )

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(
            "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes",
            self.namespace, self.http_route,
        )  # fmt: skip

    @property
    def stable_name(self) -> str:
        return self.stable_backend

    @property
    def canary_name(self) -> str:
        return self.canary_backend

    def _is_service(self, backend_ref: Mapping[str, Any], name: str) -> bool:
        return (
            backend_ref.get("name") == name
            and backend_ref.get("kind", "Service") == "Service"
            and backend_ref.get("group", "") == ""
            and backend_ref.get("namespace", self.namespace) == self.namespace
        )

    def pairs(self, body: dict[str, Any]) -> list[Pair]:
        rules = mapping(body.get("spec")).get("rules")
        found: list[Pair] = []
        for index, rule in enumerate(rules if isinstance(rules, list) else []):
            if not isinstance(rule, dict):
                continue
            refs = mappings(rule.get("backendRefs"))
            stable = [ref for ref in refs if self._is_service(ref, self.stable_backend)]
            canary = [ref for ref in refs if self._is_service(ref, self.canary_backend)]
            if not stable or not canary:
                continue
            for name, named in ((self.stable_backend, stable), (self.canary_backend, canary)):
                if len(named) > 1:
                    raise TargetInvalid(
                        f"{self.ref} spec.rules[{index}] has {len(named)} backendRefs named "
                        f"{name}; keep one so canarygate knows which weight to set"
                    )
            found.append(Pair(f"spec.rules[{index}]", stable[0], canary[0]))
        if not found:
            raise TargetInvalid(
                f"{self.ref} has no rule with backendRefs {self.stable_backend} and "
                f"{self.canary_backend}; add the canary backendRef with weight 0 next to "
                "the stable one"
            )
        return found

    def unobserved(self, body: Mapping[str, Any]) -> str | None:
        current = generation(body)
        if current is None:
            return None
        for parent in mappings(mapping(body.get("status")).get("parents")):
            for condition in mappings(parent.get("conditions")):
                if condition.get("type") != "Accepted":
                    continue
                seen = as_generation(condition.get("observedGeneration"))
                if seen is not None and seen < current:
                    gateway = mapping(parent.get("parentRef")).get("name", "a Gateway")
                    return (
                        f"{gateway} has accepted generation {seen} of {self.ref}, "
                        f"not yet {current} with the new weights"
                    )
        return None
