"""The core/v1 Event canarygate posts about a CanaryGate, built as a plain dict.

core/v1 rather than events.k8s.io/v1 because `kubectl describe` and every dashboard read
it. Setting `eventTime` makes the API server validate it as a "new" Event, which requires
`reportingComponent`, `reportingInstance` and `action`; the legacy `source`, `count` and
first/last timestamps are filled too, so old and new readers both show it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

from canarygate.kube.refs import API_VERSION, KIND, GateRef

EventType = Literal["Normal", "Warning"]
COMPONENT = "canarygate"

# API server limits on core/v1 Events (pkg/apis/core/validation/events.go).
_MAX_REASON = 128
_MAX_ACTION = 128
_MAX_INSTANCE = 128
_MAX_MESSAGE = 1024
_MAX_NAME_PREFIX = 200  # the name is `<gate>.<16 hex>`, within the 253 of a DNS subdomain


def event_body(
    gate: GateRef,
    *,
    type: EventType,
    reason: str,
    message: str,
    action: str,
    instance: str,
    now: datetime,
) -> dict[str, Any]:
    now = now.astimezone(UTC)
    seconds = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    micros = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    prefix = gate.name[:_MAX_NAME_PREFIX].rstrip("-.")  # a DNS label ends alphanumeric
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            # Unique per Event: the time keeps them ordered, randomness keeps two Events of
            # the same second (concurrent emits, several replicas) apart.
            "name": f"{prefix}.{int(now.timestamp()):x}{secrets.token_hex(4)}",
            "namespace": gate.namespace,
        },
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "namespace": gate.namespace,
            "name": gate.name,
            "uid": gate.uid,
            "resourceVersion": gate.resource_version,
        },
        "type": type,
        "reason": reason[:_MAX_REASON],
        "message": message,
        "action": action[:_MAX_ACTION],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": instance[:_MAX_INSTANCE],
        "firstTimestamp": seconds,
        "lastTimestamp": seconds,
        "eventTime": micros,
        "count": 1,
    }
