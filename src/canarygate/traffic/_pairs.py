"""The logic Gateway API and Istio share: one object whose route entries (HTTPRoute rules,
VirtualService http routes) each hold a weighted stable entry and a weighted canary entry.

A backend only says how to find those pairs and whether the routing controller has seen
the latest generation; this module reads, splits, checks, snapshots and restores them.
Canary weight w means stable 100-w and canary w in every managed entry. Other entries in
the same route keep their weights, so w is the canary's share *between stable and canary*.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from canarygate.traffic._objects import (
    check_percent,
    int_weight,
    label_of,
    lookup,
    mark_managed,
    put,
    put_label,
    saved,
    saved_label,
    thaw,
)
from canarygate.traffic.base import ObjectRef, Objects, Update, WeightCheck
from canarygate.traffic.errors import SnapshotInvalid, TargetInvalid, WeightUnavailable


@dataclass(frozen=True)
class Pair:
    """The stable and canary entries of one managed route entry, inside a thawed copy (so
    setting their weights edits that copy); `where` is its path, e.g. `spec.rules[2]`."""

    where: str
    stable: dict[str, Any]
    canary: dict[str, Any]


class PairedRoutes(ABC):
    """A TrafficBackend over one routing object made of weighted stable/canary pairs."""

    provider: ClassVar[str]
    # The weight Kubernetes gives an entry whose `weight` field is omitted.
    default_weight: ClassVar[int]
    # Which spec field names the object (for "not found" messages).
    object_field: ClassVar[str]
    # What one managed entry is called, singular and plural (for messages).
    entry_nouns: ClassVar[tuple[str, str]]

    @property
    @abstractmethod
    def ref(self) -> ObjectRef: ...

    @property
    @abstractmethod
    def stable_name(self) -> str: ...

    @property
    @abstractmethod
    def canary_name(self) -> str: ...

    @abstractmethod
    def pairs(self, body: dict[str, Any]) -> list[Pair]:
        """The managed pairs in `body` (thawed); TargetInvalid, saying what to add, when none."""

    @abstractmethod
    def unobserved(self, body: Mapping[str, Any]) -> str | None:
        """Why the routing controller may not yet run `body`'s generation, or None."""

    # -- the TrafficBackend interface -------------------------------------------------

    def targets(self) -> tuple[ObjectRef, ...]:
        return (self.ref,)

    def read_weight(self, objects: Objects) -> float:
        body = thaw(lookup(objects, self.ref, self.object_field))
        shares = [(pair.where, self._share(pair)) for pair in self.pairs(body)]
        first_where, first = shares[0]
        for where, share in shares[1:]:
            if share != first:
                raise WeightUnavailable(
                    f"{self.ref}: {first_where} sends {first:g}% to {self.canary_name} but "
                    f"{where} sends {share:g}%; canarygate gives every such "
                    f"{self.entry_nouns[0]} the same split"
                )
        return first

    def apply_weight(self, objects: Objects, weight: int) -> tuple[Update, ...]:
        weight = check_percent(weight)
        body = thaw(lookup(objects, self.ref, self.object_field))
        changed = False
        for pair in self.pairs(body):
            if not self._carries(pair, weight):
                pair.stable["weight"] = 100 - weight
                pair.canary["weight"] = weight
                changed = True
        if not changed:
            return ()
        mark_managed(body)
        return (Update(self.ref, body),)

    def check_weight(self, objects: Objects, weight: int) -> WeightCheck:
        weight = check_percent(weight)
        body = thaw(lookup(objects, self.ref, self.object_field))
        pairs = self.pairs(body)
        for pair in pairs:
            if not self._carries(pair, weight):
                try:
                    now = f"sends {self._share(pair):g}%"
                except WeightUnavailable as error:
                    now = f"has no usable weights ({error})"
                return WeightCheck.mismatch(
                    f"{self.ref} {pair.where} {now} to {self.canary_name}, not {weight}%"
                )
        pending = self.unobserved(body)
        if pending is not None:
            return WeightCheck.cannot_tell(pending)
        return WeightCheck.verified(
            f"{self.ref} sends {weight}% to {self.canary_name} in {len(pairs)} "
            f"{self.entry_nouns[len(pairs) != 1]}"
        )

    def snapshot(self, objects: Objects) -> dict[str, Any]:
        body = thaw(lookup(objects, self.ref, self.object_field))
        pairs = self.pairs(body)
        for pair in pairs:
            self._weights(pair)  # refuse to save weights that could not be written back
        return {
            "provider": self.provider,
            # Raw field values: None records an omitted weight, restored as omitted.
            "weights": [
                {"stable": pair.stable.get("weight"), "canary": pair.canary.get("weight")}
                for pair in pairs
            ],
            "label": label_of(body),
        }

    def restore(self, objects: Objects, snapshot: Mapping[str, Any]) -> tuple[Update, ...]:
        data = saved(snapshot, self.provider)
        weights = _saved_weights(data.get("weights"))
        label = saved_label(data)
        if self.ref not in objects:
            return ()  # deleted: no routing left to put back
        original = thaw(lookup(objects, self.ref, self.object_field))
        body = thaw(original)
        try:
            pairs = self.pairs(body)
        except TargetInvalid:
            # The owner already took the canary out of the route: the weights canarygate
            # managed are gone, only its label is left to undo.
            pairs = []
        for pair, (stable, canary) in zip(pairs, self._plan(weights, len(pairs)), strict=True):
            put(pair.stable, "weight", stable)
            put(pair.canary, "weight", canary)
        put_label(body, label)
        return (Update(self.ref, body),) if body != original else ()

    # -- helpers ------------------------------------------------------------------------

    def _weight(self, pair: Pair, entry: Mapping[str, Any], name: str) -> int:
        value = int_weight(entry.get("weight"), self.default_weight)
        if value is None:
            raise WeightUnavailable(
                f"{self.ref} {pair.where}: the weight of {name} must be a non-negative "
                f"integer, got {entry.get('weight')!r}"
            )
        return value

    def _weights(self, pair: Pair) -> tuple[int, int]:
        return (
            self._weight(pair, pair.stable, self.stable_name),
            self._weight(pair, pair.canary, self.canary_name),
        )

    def _share(self, pair: Pair) -> float:
        stable, canary = self._weights(pair)
        if stable + canary == 0:
            # Both at 0 route nothing to either: there is no share to report, and 0 % would lie.
            raise WeightUnavailable(
                f"{self.ref} {pair.where}: stable and canary weights are both 0"
            )
        return 100.0 * canary / (stable + canary)

    def _carries(self, pair: Pair, weight: int) -> bool:
        """Whether the pair already splits weight:100-weight (3:1 counts as 25 %): equal
        traffic needs no write, and an untouched field is one GitOps sees no drift in."""
        try:
            stable, canary = self._weights(pair)
        except WeightUnavailable:
            return False
        total = stable + canary
        return total > 0 and 100 * canary == weight * total

    def _plan(
        self, weights: list[tuple[int | None, int | None]], count: int
    ) -> list[tuple[int | None, int | None]]:
        """The saved weights for `count` managed entries: one each, or, when the route
        gained or lost entries since the snapshot, the one split they all had."""
        if count == 0 or len(weights) == count:
            return weights[:count]
        if weights and all(split == weights[0] for split in weights):
            return [weights[0]] * count
        raise TargetInvalid(
            f"{self.ref} has {count} {self.entry_nouns[1]} routing to {self.stable_name} and "
            f"{self.canary_name} now but had {len(weights)} with different weights when "
            f"canarygate saved them ({weights}); set the weights back by hand"
        )


def _saved_weights(value: Any) -> list[tuple[int | None, int | None]]:
    if not isinstance(value, list):
        raise SnapshotInvalid(f"saved weights must be a list, got {value!r}")
    out: list[tuple[int | None, int | None]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise SnapshotInvalid(f"a saved weight entry must be an object, got {item!r}")
        stable, canary = item.get("stable"), item.get("canary")
        for weight in (stable, canary):
            if weight is not None and int_weight(weight, 0) is None:
                raise SnapshotInvalid(f"saved weight {weight!r} is not a non-negative integer")
        out.append((stable, canary))
    return out
