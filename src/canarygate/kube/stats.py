"""Counters of one KubeApi, read by the operator's metrics endpoint (`api.stats`).

Plain counters, no clock and no locks: everything runs on one event loop.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class ApiStats:
    # Requests sent, by Kubernetes verb: get, list, watch, create, update, patch.
    requests: Counter[str] = field(default_factory=Counter)
    # Failed requests, by error class name: Conflict, NotFound, Forbidden, KubeUnavailable...
    errors: Counter[str] = field(default_factory=Counter)
    # 409s: a write lost an optimistic-concurrency race (also counted in `errors`).
    conflicts: int = 0
    # Events that could not be posted (emit_event never raises; this is where failures show).
    events_failed: int = 0
    # Informer restarts: full relists after a 410 Gone, watches re-opened after an error.
    relists: int = 0
    watch_restarts: int = 0
