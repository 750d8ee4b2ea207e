"""ingress-nginx: the canary weight as annotations on the canary Ingress
(`networking.k8s.io/v1`, named by `canaryIngress`).

    nginx.ingress.kubernetes.io/canary: "true"
    nginx.ingress.kubernetes.io/canary-weight: "<w>"         # out of canary-weight-total
    nginx.ingress.kubernetes.io/canary-weight-total: "1000"  # optional, default 100; read only

Weight 0 keeps the canary Ingress (and its `canary: "true"`) with weight 0: switched off,
it would become an ordinary Ingress competing with the stable one for the same host.
With a total other than 100 the written weight is w*total/100 rounded to the nearest
integer, but at least 1 for w > 0 and at most total-1 for w < 100.

The stable Ingress (`ingress` in the spec) is neither read nor written: ingress-nginx
splits traffic by the canary Ingress's annotations alone.

GitOps: only those two annotations change, plus the MANAGED_LABEL label (see `base`);
Argo CD can ignore them with the JSON pointers
`/metadata/annotations/nginx.ingress.kubernetes.io~1canary` and `...~1canary-weight`.
ingress-nginx reports nothing about loading annotations, so check_weight is verified or
mismatch from the Ingress itself, never cannot-tell.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from canarygate.traffic._objects import (
    annotations_of,
    check_percent,
    label_of,
    lookup,
    mark_managed,
    put_annotation,
    put_label,
    saved,
    saved_label,
    thaw,
)
from canarygate.traffic.base import ObjectRef, Objects, Update, WeightCheck
from canarygate.traffic.errors import SnapshotInvalid, TargetInvalid, WeightUnavailable

CANARY = "nginx.ingress.kubernetes.io/canary"
CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
CANARY_WEIGHT_TOTAL = "nginx.ingress.kubernetes.io/canary-weight-total"
DEFAULT_TOTAL = 100
FIELD = "spec.canary.traffic.nginx.canaryIngress"


def _integer(value: Any) -> int | None:
    """An annotation holding a non-negative decimal integer, else None."""
    return int(value) if isinstance(value, str) and value.isdecimal() else None


def _is_on(annotations: Mapping[str, Any]) -> bool:
    return str(annotations.get(CANARY, "")).lower() == "true"


def scaled_weight(weight: int, total: int) -> int:
    """The canary-weight annotation for `weight` percent out of `total`."""
    if weight in (0, 100):
        return weight * total // 100
    if total < 2:
        raise ValueError(f"canary-weight-total {total} cannot express {weight}%")
    nearest = (weight * total + 50) // 100
    return min(max(nearest, 1), total - 1)


@dataclass(frozen=True)
class NginxBackend:
    provider: ClassVar[str] = "nginx"

    namespace: str
    canary_ingress: str

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef(
            "networking.k8s.io", "v1", "Ingress", "ingresses", self.namespace, self.canary_ingress
        )

    def targets(self) -> tuple[ObjectRef, ...]:
        return (self.ref,)

    def read_weight(self, objects: Objects) -> float:
        annotations = annotations_of(lookup(objects, self.ref, FIELD))
        if not _is_on(annotations):
            return 0.0  # not (or no longer) a canary: ingress-nginx sends it no canary share
        weight = _integer(annotations.get(CANARY_WEIGHT, "0"))
        total = _integer(annotations.get(CANARY_WEIGHT_TOTAL, str(DEFAULT_TOTAL)))
        if weight is None or total is None:
            raise WeightUnavailable(
                f"{self.ref}: canary weight annotation is not an integer: "
                f"canary-weight {annotations.get(CANARY_WEIGHT)!r}, "
                f"canary-weight-total {annotations.get(CANARY_WEIGHT_TOTAL)!r}"
            )
        if total == 0:
            raise WeightUnavailable(f"{self.ref}: canary-weight-total is 0")
        return 100.0 * min(weight, total) / total  # ingress-nginx caps the weight at the total

    def _desired(self, annotations: Mapping[str, Any], weight: int) -> int:
        raw = annotations.get(CANARY_WEIGHT_TOTAL, str(DEFAULT_TOTAL))
        total = _integer(raw)
        if total is None or total == 0:
            raise TargetInvalid(
                f"{self.ref}: canary-weight-total {raw!r} is not a positive integer; "
                "fix or remove the annotation"
            )
        try:
            return scaled_weight(weight, total)
        except ValueError as error:
            raise TargetInvalid(
                f"{self.ref}: {error}; raise or remove the canary-weight-total annotation"
            ) from None

    @staticmethod
    def _carries(annotations: Mapping[str, Any], desired: int) -> bool:
        return _is_on(annotations) and _integer(annotations.get(CANARY_WEIGHT)) == desired

    def apply_weight(self, objects: Objects, weight: int) -> tuple[Update, ...]:
        weight = check_percent(weight)
        body = thaw(lookup(objects, self.ref, FIELD))
        annotations = annotations_of(body)
        desired = self._desired(annotations, weight)
        if self._carries(annotations, desired):
            return ()
        if not _is_on(annotations):
            put_annotation(body, CANARY, "true")
        put_annotation(body, CANARY_WEIGHT, str(desired))
        mark_managed(body)
        return (Update(self.ref, body),)

    def check_weight(self, objects: Objects, weight: int) -> WeightCheck:
        weight = check_percent(weight)
        annotations = annotations_of(lookup(objects, self.ref, FIELD))
        try:
            desired = self._desired(annotations, weight)
        except TargetInvalid as error:
            return WeightCheck.mismatch(str(error))
        if not self._carries(annotations, desired):
            return WeightCheck.mismatch(
                f"{self.ref} has canary {annotations.get(CANARY)!r} and canary-weight "
                f"{annotations.get(CANARY_WEIGHT)!r}, not 'true' and '{desired}' for {weight}%"
            )
        return WeightCheck.verified(f"{self.ref} has canary-weight {desired} for {weight}%")

    def snapshot(self, objects: Objects) -> dict[str, Any]:
        body = lookup(objects, self.ref, FIELD)
        annotations = annotations_of(body)
        return {
            "provider": self.provider,
            # Raw values; None records an absent annotation, removed again on restore.
            "annotations": {key: annotations.get(key) for key in (CANARY, CANARY_WEIGHT)},
            "label": label_of(body),
        }

    def restore(self, objects: Objects, snapshot: Mapping[str, Any]) -> tuple[Update, ...]:
        data = saved(snapshot, self.provider)
        values = data.get("annotations")
        if not isinstance(values, Mapping) or set(values) != {CANARY, CANARY_WEIGHT}:
            raise SnapshotInvalid(f"saved annotations {values!r} are not nginx canary ones")
        for value in values.values():
            if value is not None and not isinstance(value, str):
                raise SnapshotInvalid(f"saved annotation value {value!r} is not a string")
        label = saved_label(data)
        if self.ref not in objects:
            return ()  # deleted: no routing left to put back
        original = thaw(lookup(objects, self.ref, FIELD))
        body = thaw(original)
        for key, value in values.items():
            put_annotation(body, key, value)
        put_label(body, label)
        return (Update(self.ref, body),) if body != original else ()
