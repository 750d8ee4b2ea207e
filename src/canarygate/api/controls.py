"""The manual controls as annotation values (what they mean is in core.controls).

A value is a JSON object, as `canarygate pause` and the other commands write it:

    canarygate.io/pause: '{"revision":"v2","by":"alice","reason":"INC-4711","at":"2026-...Z"}'

or just what it names, for a hand-written annotation (`kubectl annotate cg checkout
canarygate.io/pause=v2`): a revision, or for `canarygate.io/clear-freeze` the `redSince` of
the red episode it clears (`status.freeze.redSince`). A value that is neither is kept as a
control with a `problem`, so that it is acknowledged as ignored, with the reason, instead
of vanishing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from canarygate.core.controls import CONTROL_ANNOTATIONS, Control, ControlKind, ControlOutcome
from canarygate.core.state import timestamp

# What a value may hold, and how long each part may be: an annotation is small and its
# text ends up in status, Events and notifications.
TEXT_LIMIT: Final = 1024
_TARGET_KEYS = {ControlKind.CLEAR_FREEZE: "redSince"}


def _target_key(kind: ControlKind) -> str:
    return _TARGET_KEYS.get(kind, "revision")


def control_value(
    kind: ControlKind, target: str, *, by: str | None, reason: str | None, at: str
) -> str:
    """The annotation value of a control, compact JSON with a stable key order."""
    document: dict[str, str] = {_target_key(kind): target}
    if by:
        document["by"] = by
    if reason:
        document["reason"] = reason
    document["at"] = at
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False)


def parse_control(kind: ControlKind, value: str) -> Control:
    """One annotation value read as a control; never raises."""
    text = value.strip()
    if not text.startswith("{"):
        if not text or any(c.isspace() for c in text) or len(text) > TEXT_LIMIT:
            return Control(kind, "", problem=f"{value[:64]!r} names no {_target_key(kind)}")
        return Control(kind, text)
    try:
        document = json.loads(text)
    except ValueError:
        return Control(kind, "", problem="its value is neither JSON nor a bare name")
    if not isinstance(document, dict):
        return Control(kind, "", problem="its value is not a JSON object")
    key = _target_key(kind)
    target = document.get(key)
    if not isinstance(target, str) or not target:
        return Control(kind, "", problem=f"its value names no {key}")
    fields = {name: document.get(name) for name in ("by", "reason", "at")}
    wrong = [name for name, v in fields.items() if v is not None and not isinstance(v, str)]
    if wrong:
        return Control(kind, target, problem=f"{', '.join(wrong)} must be text")
    by, reason, at = (_clipped(fields[name]) for name in ("by", "reason", "at"))
    return Control(kind, target[:TEXT_LIMIT], by=by, reason=reason, at=at)


def _clipped(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= TEXT_LIMIT else value[: TEXT_LIMIT - 3] + "..."


def controls_of(metadata: Mapping[str, Any]) -> tuple[Control, ...]:
    """Every control given on a gate, in the order of ControlKind."""
    annotations = metadata.get("annotations") or {}
    found = []
    for kind, annotation in CONTROL_ANNOTATIONS.items():
        value = annotations.get(annotation)
        if isinstance(value, str):
            found.append(parse_control(kind, value))
    return tuple(found)


# -- status.controls: the acknowledgements ------------------------------------------------


def control_entry(outcome: ControlOutcome, now: datetime) -> dict[str, Any]:
    control = outcome.control
    return {
        "type": str(control.kind),
        "revision": control.target or None,
        "by": control.by,
        "reason": control.reason,
        "requestedAt": control.at,
        "acknowledgedAt": timestamp(now),
        "applied": outcome.applies,
        "message": outcome.message,
    }


def with_entries(
    current: Sequence[Mapping[str, Any]] | None,
    entries: Sequence[Mapping[str, Any]],
    *,
    drop: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """`status.controls` with `entries` replacing those of their type (and `drop` removed)."""
    replaced = {str(e["type"]) for e in entries} | drop
    kept = [dict(c) for c in current or () if str(c.get("type")) not in replaced]
    return sorted([*kept, *(dict(e) for e in entries)], key=lambda c: str(c["type"]))
