"""Move a canary's traffic: read the routing objects, let the pure backend compute the change,
write it with the object's resourceVersion, and on a conflict read again and recompute.

Writing only what differs is the backend's job (an object already at the weight yields no
update), so a repeated call after a crash changes nothing. Another writer's change to the
rest of the object survives: every write starts from the object as it is now.

A move can be stamped with LAST_CHANGE, an annotation written in the same update as the
weights. A rollback moves traffic before anything else is written, so if the operator dies
right after, the stamp on the route is the only record that the move was canarygate's.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from canarygate.core.errors import ActuatorError
from canarygate.kube import Conflict, NotFound
from canarygate.traffic import ObjectRef, Objects, TrafficBackend, Update, WeightCheck

CONFLICT_RETRIES = 5
LAST_CHANGE = "canarygate.io/last-change"


class ObjectStore(Protocol):
    async def read_objects(
        self, refs: tuple[ObjectRef, ...]
    ) -> dict[ObjectRef, dict[str, Any]]: ...

    async def replace_object(self, ref: ObjectRef, body: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Moved:
    """The result of setting a weight: how many objects were written and the check after."""

    written: int
    check: WeightCheck
    live_weight: float | None


async def read(store: ObjectStore, backend: TrafficBackend) -> Objects:
    """The backend's objects as they are now; an absent one is left out (the backend then
    raises TargetMissing naming it)."""
    try:
        return await store.read_objects(backend.targets())
    except NotFound:
        return {}


async def set_weight(
    store: ObjectStore,
    backend: TrafficBackend,
    weight: int,
    *,
    stamp: Mapping[str, Any] | None = None,
    objects: Objects | None = None,
) -> Moved:
    """Bring the live objects to `weight`, retrying on conflicts; raises ActuatorError.
    With `stamp`, every object written carries it as the LAST_CHANGE annotation. `objects`,
    when the caller has just read them, saves the first read."""
    for attempt in range(CONFLICT_RETRIES):
        if objects is None or attempt:
            objects = await read(store, backend)
        updates = backend.apply_weight(objects, weight)
        if stamp is not None:
            updates = tuple(_stamped(update, stamp) for update in updates)
        try:
            written = await _write(store, updates, objects)
        except Conflict:
            continue  # someone changed an object since we read it: read again, recompute
        return Moved(len(updates), backend.check_weight(written, weight), _weight(backend, written))
    raise ActuatorError(
        f"{backend.provider}: gave up setting {weight}% after {CONFLICT_RETRIES} write conflicts"
    )


async def restore(store: ObjectStore, backend: TrafficBackend, snapshot: Mapping[str, Any]) -> int:
    """Put the routing recorded in `snapshot` back; returns how many objects were written."""
    for _ in range(CONFLICT_RETRIES):
        objects = await read(store, backend)
        updates = _unstamped(backend.restore(objects, snapshot), objects)
        try:
            await _write(store, updates, objects)
        except Conflict:
            continue
        return len(updates)
    raise ActuatorError(f"{backend.provider}: gave up restoring after {CONFLICT_RETRIES} conflicts")


def last_change(objects: Objects) -> dict[str, Any] | None:
    """The LAST_CHANGE stamp found on the objects, if any (the first one that has it)."""
    for body in objects.values():
        text = ((body.get("metadata") or {}).get("annotations") or {}).get(LAST_CHANGE)
        if isinstance(text, str):
            try:
                found = json.loads(text)
            except ValueError:
                continue
            if isinstance(found, dict):
                return found
    return None


def _stamped(update: Update, stamp: Mapping[str, Any]) -> Update:
    body = copy.deepcopy(update.body)
    annotations = body.setdefault("metadata", {}).setdefault("annotations", {})
    annotations[LAST_CHANGE] = json.dumps(dict(stamp), sort_keys=True)
    return Update(update.ref, body)


def _unstamped(updates: tuple[Update, ...], objects: Objects) -> tuple[Update, ...]:
    """Restore's updates without our stamp, plus one for any stamped object left unchanged."""
    result: dict[ObjectRef, Update] = {u.ref: u for u in updates}
    for ref, body in objects.items():
        if ref not in result and LAST_CHANGE in (
            (body.get("metadata") or {}).get("annotations") or {}
        ):
            result[ref] = Update(ref, copy.deepcopy({**body}))
    cleaned: list[Update] = []
    for update in result.values():
        unstamped = copy.deepcopy(update.body)
        metadata = unstamped.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        annotations.pop(LAST_CHANGE, None)
        if not annotations and "annotations" in metadata:
            del metadata["annotations"]
        cleaned.append(Update(update.ref, unstamped))
    return tuple(cleaned)


async def _write(store: ObjectStore, updates: tuple[Update, ...], objects: Objects) -> Objects:
    written = dict(objects)
    for update in updates:
        written[update.ref] = await store.replace_object(update.ref, update.body)
    return written


def _weight(backend: TrafficBackend, objects: Objects) -> float | None:
    try:
        return backend.read_weight(objects)
    except ActuatorError:
        return None
