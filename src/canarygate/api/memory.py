"""The parts of the core's memory that live in status beside the evidence: the red episode
of an incident-aware freeze (`status.freeze`) and each check's last result (`status.checks`).

Written from a Decision, read back (leniently: the status is the operator's own, and a part
it cannot read is forgotten rather than guessed) by the operator's records and by
`to_gate_state` for `evaluate` and `replay`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from canarygate.core.checks import CheckAssessment, CheckKind, CheckRecord, CheckVerdict
from canarygate.core.incidents import CLEAR_FREEZE_ANNOTATION
from canarygate.core.state import FreezeMemory, timestamp


def freeze_status(memory: FreezeMemory | None, until: datetime | None) -> dict[str, Any] | None:
    if memory is None:
        return None
    return {
        "redSince": timestamp(memory.red_since),
        "journeys": list(memory.journeys),
        "clearSince": timestamp(memory.clear_since) if memory.clear_since else None,
        "cooldownUntil": timestamp(until) if until else None,
        "clear": f"{CLEAR_FREEZE_ANNOTATION}={memory.key}",
    }


def freeze_from_status(raw: Any) -> FreezeMemory | None:
    if not isinstance(raw, Mapping):
        return None
    since = _time(raw.get("redSince"))
    if since is None:
        return None
    journeys = tuple(str(j) for j in raw.get("journeys") or () if isinstance(j, str))
    return FreezeMemory(since, journeys, _time(raw.get("clearSince")))


def checks_status(assessments: Sequence[CheckAssessment]) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "kind": str(a.kind),
            "verdict": str(a.verdict),
            "value": _number(a.value),
            "statusCode": a.status_code,
            "latencySeconds": _number(a.latency_seconds),
            "step": a.step,
            "at": timestamp(a.at) if a.at else None,
            "consecutiveFailures": a.consecutive_failures,
            "message": a.message[:1024],
        }
        for a in assessments
    ]


def check_records_from_status(raw: Any) -> dict[str, CheckRecord]:
    found: dict[str, CheckRecord] = {}
    for entry in raw or ():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            continue
        try:
            kind = CheckKind(entry.get("kind") or CheckKind.PROMETHEUS)
            verdict = CheckVerdict(str(entry.get("verdict")))
        except ValueError:
            continue
        failures = entry.get("consecutiveFailures") or 0
        code = entry.get("statusCode")
        step = entry.get("step")
        found[entry["name"]] = CheckRecord(
            name=entry["name"],
            kind=kind,
            verdict=verdict,
            consecutive_failures=max(0, failures) if isinstance(failures, int) else 0,
            message=str(entry.get("message") or ""),
            value=_float(entry.get("value")),
            status_code=code if _integer(code) else None,
            latency_seconds=_float(entry.get("latencySeconds")),
            step=step if _integer(step) else None,
            at=_time(entry.get("at")),
        )
    return found


def significant_checks(raw: Any) -> list[Any]:
    """What of `status.checks` must be written at once: verdicts and failure counts (values,
    latencies and times move on every evaluation and wait for the heartbeat)."""
    return [
        (c.get("name"), c.get("verdict"), c.get("consecutiveFailures"))
        for c in raw or ()
        if isinstance(c, Mapping)
    ]


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _number(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
