"""Move a canary's traffic: read the routing objects, let the pure backend compute the change,
write it with the object's resourceVersion, and on a conflict read again and recompute.

Writing only what differs is the backend's job (an object already at the weight yields no
update), so a repeated call after a crash changes nothing. Another writer's change to the
rest of the object survives: every write starts from the object as it is now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from canarygate.core.errors import ActuatorError
from canarygate.kube import Conflict, NotFound
from canarygate.traffic import ObjectRef, Objects, TrafficBackend, Update, WeightCheck

CONFLICT_RETRIES = 5


class ObjectStore(Protocol):
    async def read_objects(self, refs: tuple[ObjectRef, ...]) -> dict[ObjectRef, dict[str, Any]]: ...

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


async def set_weight(store: ObjectStore, backend: TrafficBackend, weight: int) -> Moved:
    """Bring the live objects to `weight`, retrying on conflicts; raises ActuatorError."""
    for _ in range(CONFLICT_RETRIES):
        objects = await read(store, backend)
        updates = backend.apply_weight(objects, weight)
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
        updates = backend.restore(objects, snapshot)
        try:
            await _write(store, updates, objects)
        except Conflict:
            continue
        return len(updates)
    raise ActuatorError(f"{backend.provider}: gave up restoring after {CONFLICT_RETRIES} conflicts")


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
