"""What the GateInformer tells its consumer: a gate's body, a deletion, a complete list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

GateKey = tuple[str, str]  # (namespace, name)


@dataclass(frozen=True, slots=True, eq=False)
class Upsert:
    """A CanaryGate as the API server holds it now (added, modified, or listed). The raw
    body: build a compact record from it and drop it."""

    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Deleted:
    """The gate is gone (a watch DELETED, a relist no longer showing it, or a new uid
    under the same name: then Deleted of the old uid comes before the Upsert)."""

    namespace: str
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class Synced:
    """A complete list just ended: `keys` are all gates present, in every watched namespace.
    Records of other gates are stale (deleted while no watch ran) and may be dropped."""

    keys: frozenset[GateKey]


InformerEvent = Upsert | Deleted | Synced
