"""`external`: a judge-only gate. Another tool (Argo Rollouts, Flagger, a pipeline) moves the
canary's traffic and asks canarygate's verdict API; canarygate reads no routing object and
writes none. The weight it judges at is the one its callers report.

The backend exists so that every gate has one (validation, the provider's name in status);
the operator never asks it to move anything. If something did, it would get no update, and a
weight check that cannot tell: silence about the routing is never read as "at the weight".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from canarygate.traffic.base import ObjectRef, Objects, Update, WeightCheck
from canarygate.traffic.errors import WeightUnavailable

NOT_OURS = "canarygate does not route this gate's traffic (provider external)"


@dataclass(frozen=True)
class ExternalBackend:
    provider: ClassVar[str] = "external"

    namespace: str

    def targets(self) -> tuple[ObjectRef, ...]:
        return ()

    def read_weight(self, objects: Objects) -> float:
        raise WeightUnavailable(f"{NOT_OURS}: the weight is the one its callers report")

    def apply_weight(self, objects: Objects, weight: int) -> tuple[Update, ...]:
        return ()

    def check_weight(self, objects: Objects, weight: int) -> WeightCheck:
        return WeightCheck.cannot_tell(NOT_OURS)

    def snapshot(self, objects: Objects) -> dict[str, Any]:
        return {}

    def restore(self, objects: Objects, snapshot: Mapping[str, Any]) -> tuple[Update, ...]:
        return ()
