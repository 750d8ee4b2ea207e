"""Small helpers over JSON-like Kubernetes objects shared by the backends: finding a target,
copying it, reading weights defensively, and the MANAGED_LABEL bookkeeping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canarygate.traffic.base import MANAGED_LABEL, MANAGED_LABEL_VALUE, Body, ObjectRef, Objects
from canarygate.traffic.errors import SnapshotInvalid, TargetInvalid, TargetMissing


def check_percent(weight: int) -> int:
    """Desired weights come from validated steps; anything else is a caller's bug."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
        raise ValueError(f"a canary weight is an integer percent 0..100, got {weight!r}")
    return weight


def lookup(objects: Objects, ref: ObjectRef, field: str) -> Body:
    """The live object for `ref`; `field` is the spec field naming it, for the message."""
    body = objects.get(ref)
    if body is None:
        raise TargetMissing(f"{ref} not found: create it, or set {field} to an existing {ref.kind}")
    if not isinstance(body, Mapping):
        raise TargetInvalid(f"{ref} is not an object: got {type(body).__name__}")
    return body


def thaw(value: Any) -> Any:
    """A deep copy made of plain dicts and lists, whatever mappings the caller passed in."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(item) for item in value]
    return value


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def mappings(value: Any) -> list[Any]:
    """The mapping items of a list (kept by identity so callers can edit a thawed copy)."""
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def int_weight(value: Any, default: int) -> int | None:
    """A weight field as Kubernetes defines it: an absent field is `default`; anything but
    a non-negative integer is None (unreadable)."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def put(container: dict[str, Any], key: str, value: Any) -> None:
    """Set `key`, or remove it when `value` is None (how snapshots record "absent")."""
    if value is None:
        container.pop(key, None)
    else:
        container[key] = value


def _metadata_map(body: dict[str, Any], name: str) -> dict[str, Any]:
    metadata = body.get("metadata")
    if not isinstance(metadata, dict):
        metadata = body["metadata"] = {}
    current = metadata.get(name)
    if isinstance(current, dict):
        return current
    fresh: dict[str, Any] = {}
    metadata[name] = fresh
    return fresh


def _drop_if_empty(body: dict[str, Any], name: str) -> None:
    # The API server never returns an empty labels or annotations map; dropping ours keeps
    # a restored object equal to the original.
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and metadata.get(name) == {}:
        del metadata[name]


def label_of(body: Body) -> str | None:
    value = mapping(mapping(body.get("metadata")).get("labels")).get(MANAGED_LABEL)
    return value if isinstance(value, str) else None


def mark_managed(body: dict[str, Any]) -> None:
    _metadata_map(body, "labels")[MANAGED_LABEL] = MANAGED_LABEL_VALUE


def put_label(body: dict[str, Any], value: str | None) -> None:
    put(_metadata_map(body, "labels"), MANAGED_LABEL, value)
    _drop_if_empty(body, "labels")


def annotations_of(body: Body) -> Mapping[str, Any]:
    return mapping(mapping(body.get("metadata")).get("annotations"))


def put_annotation(body: dict[str, Any], key: str, value: str | None) -> None:
    put(_metadata_map(body, "annotations"), key, value)
    _drop_if_empty(body, "annotations")


def generation(body: Body) -> int | None:
    value = mapping(body.get("metadata")).get("generation")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_generation(value: Any) -> int | None:
    """An observedGeneration: an integer, or (Istio's protobuf JSON) a decimal string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def saved(snapshot: Mapping[str, Any], provider: str) -> Mapping[str, Any]:
    """The snapshot, after checking it was written by `provider`'s backend."""
    if not isinstance(snapshot, Mapping) or snapshot.get("provider") != provider:
        found = snapshot.get("provider") if isinstance(snapshot, Mapping) else snapshot
        raise SnapshotInvalid(
            f"the saved routing is for provider {found!r}, not {provider!r}; "
            "restore the original weights by hand"
        )
    return snapshot


def saved_label(snapshot: Mapping[str, Any]) -> str | None:
    value = snapshot.get("label")
    if value is not None and not isinstance(value, str):
        raise SnapshotInvalid(f"the saved label value {value!r} is not a string")
    return value
