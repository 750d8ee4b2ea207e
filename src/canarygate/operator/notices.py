"""The notice of one transition: the generic JSON document every webhook format starts from.

Pure: built from the `Transition` (the gate as just written, whose status holds the
evidence) and the instant it was announced. Its keys are a contract (`SCHEMA`; documented
in docs/notifications.md): keys may be added, none renamed or removed.

    schema      "canarygate.io/notification/v1"
    id          "<gate uid>/<resourceVersion written>/<reason>": the same for a retried post,
                so a receiver can drop a duplicate (a post whose answer was lost is re-sent)
    time        when the operator announced it (RFC 3339)
    gate        {namespace, name, uid, revision}
    reason      the Event's reason (RolledBack, Advanced, QueryError...)
    type        Normal | Warning (as the Event)
    message     the Event's message
    change      {weightFrom, weightTo, phase}: the canary's traffic before and after, and the
                phase now
    cell        {health, risk, mode, action}: the matrix cell (health x risk -> mode)
    journeysInBreach   journeys whose health is not green: {name, health, objective,
                burnRates {window: rate}, budgetRemaining (fraction), segments?}
    guardrails  every guardrail: {name, verdict, canary, baseline, samples,
                consecutiveFailures, severity, max, maxIncrease, segments?}
    reasons     [{code, message}]: why the gate decided what it did
    approval    only while the gate waits for a person (phase WaitingForApproval): {key,
                action, toWeight, waitingSince, annotation, command, how}: approve with
                `command`, or set `annotation` to `key` on the CanaryGate
    nextStep    what a person should do now, in words (see `next_steps`)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from canarygate.api.status import rfc3339
from canarygate.core.approval import APPROVE_ANNOTATION
from canarygate.core.vocabulary import Phase
from canarygate.operator.context import Transition
from canarygate.operator.next_steps import Facts, next_step

SCHEMA: Final = "canarygate.io/notification/v1"

# Reasons whose write appended the move to `status.history` (its last entry is this change).
_MOVES: Final = frozenset(
    {"RolloutStarted", "Advanced", "Promoted", "RolledBack", "Aborted", "ForcePromoted"}
)
_GUARDRAIL_LIMITS: Final = ("severity", "max", "maxIncrease")


def notice(transition: Transition, announced_at: datetime) -> dict[str, Any]:
    """The generic document of `transition` (JSON-ready)."""
    body = transition.gate
    metadata = _mapping(body.get("metadata"))
    spec = _mapping(body.get("spec"))
    status = _mapping(body.get("status"))
    canary = _mapping(spec.get("canary"))
    reason = str(transition.reason)
    namespace = str(metadata.get("namespace", ""))
    name = str(metadata.get("name", ""))
    uid = str(metadata.get("uid") or f"{namespace}/{name}")
    revision = status.get("revision") or canary.get("revision")
    journeys = _journeys_in_breach(status.get("journeys"), spec.get("journeys"))
    guardrails = _guardrails(status.get("guardrails"), canary.get("guardrails"))
    change = _change(reason, status)
    approval = _approval(status, namespace, name)
    facts = Facts(
        namespace=namespace,
        name=name,
        revision=None if revision is None else str(revision),
        message=transition.message,
        weight=change["weightTo"],
        steps=tuple(int(s) for s in canary.get("steps") or [] if isinstance(s, int)),
        interval=str(canary.get("interval") or "1m"),
        journeys_in_breach=tuple((j["name"], str(j.get("health"))) for j in journeys),
        failing_guardrails=tuple(
            _guardrail_line(g) for g in guardrails if g.get("verdict") == "fail"
        ),
        reason_codes=tuple(str(c) for c in status.get("reasonCodes") or []),
        prometheus=str(_mapping(spec.get("prometheus")).get("address") or "")
        or "the operator's default",
        approval=None if approval is None else str(approval["how"]),
        health=None if status.get("health") is None else str(status["health"]),
        mode=None if status.get("mode") is None else str(status["mode"]),
        warning=transition.warning,
    )
    document = {
        "schema": SCHEMA,
        "id": f"{uid}/{metadata.get('resourceVersion', '')}/{reason}",
        "time": rfc3339(announced_at),
        "gate": {"namespace": namespace, "name": name, "uid": uid, "revision": facts.revision},
        "reason": reason,
        "type": "Warning" if transition.warning else "Normal",
        "message": transition.message,
        "change": change,
        "cell": {key: status.get(key) for key in ("health", "risk", "mode", "action")},
        "journeysInBreach": journeys,
        "guardrails": guardrails,
        "reasons": [
            {"code": str(code), "message": str(message)}
            for code, message in zip(
                status.get("reasonCodes") or [], status.get("reasons") or [], strict=False
            )
        ],
        "nextStep": next_step(reason, facts),
    }
    if approval is not None:
        document["approval"] = approval
    return document


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _approval(status: Mapping[str, Any], namespace: str, name: str) -> dict[str, Any] | None:
    """What the gate waits for and how to give it, while it waits (a status.approval left
    from an earlier wait is not shown once the phase moved on)."""
    waiting = _mapping(status.get("approval"))
    if status.get("phase") != str(Phase.WAITING_FOR_APPROVAL) or not waiting.get("key"):
        return None
    key = str(waiting["key"])
    command = f"canarygate approve {namespace}/{name}"
    return {
        "key": key,
        "action": waiting.get("action"),
        "toWeight": waiting.get("toWeight"),
        "waitingSince": waiting.get("waitingSince"),
        "annotation": APPROVE_ANNOTATION,
        "command": command,
        "how": str(waiting.get("how") or "")
        or (
            f"{command}, or kubectl annotate canarygate {name} -n {namespace} "
            f"{APPROVE_ANNOTATION}={key} --overwrite"
        ),
    }


def _change(reason: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """Weight before and after: a move's own history entry (written with it), else the
    weight stays what the status says."""
    weight = status.get("weight")
    history = status.get("history") or []
    last = _mapping(history[-1]) if history else {}
    if reason in _MOVES and "weightTo" in last:
        return {
            "weightFrom": last.get("weightFrom"),
            "weightTo": last.get("weightTo"),
            "phase": status.get("phase"),
        }
    return {"weightFrom": weight, "weightTo": weight, "phase": status.get("phase")}


def _by_name(items: Any) -> dict[str, Mapping[str, Any]]:
    return {
        str(item["name"]): item
        for item in items or []
        if isinstance(item, Mapping) and "name" in item
    }


def _journeys_in_breach(found: Any, declared: Any) -> list[dict[str, Any]]:
    specs = _by_name(declared)
    breached = []
    for journey in found or []:
        if not isinstance(journey, Mapping) or journey.get("health") == "green":
            continue
        entry: dict[str, Any] = {
            "name": str(journey.get("name", "")),
            "health": journey.get("health"),
            "objective": specs.get(str(journey.get("name")), {}).get("objective"),
            "burnRates": dict(journey.get("burnRates") or {}),
            "budgetRemaining": journey.get("budgetRemaining"),
        }
        if journey.get("segments"):
            entry["segments"] = list(journey["segments"])
        breached.append(entry)
    return breached


def _guardrails(found: Any, declared: Any) -> list[dict[str, Any]]:
    specs = _by_name(declared)
    guardrails = []
    for guardrail in found or []:
        if not isinstance(guardrail, Mapping):
            continue
        spec = specs.get(str(guardrail.get("name")), {})
        entry = {
            key: guardrail.get(key)
            for key in ("name", "verdict", "canary", "baseline", "samples", "consecutiveFailures")
        }
        entry |= {key: spec.get(key) for key in _GUARDRAIL_LIMITS}
        if guardrail.get("segments"):
            entry["segments"] = list(guardrail["segments"])
        guardrails.append(entry)
    return guardrails


def _guardrail_line(guardrail: Mapping[str, Any]) -> str:
    """`error-rate (canary 0.051 vs baseline 0, max 0.01)`: a failing guardrail in words."""
    values = [f"canary {number(guardrail.get('canary'))}"]
    if guardrail.get("baseline") is not None:
        values[0] += f" vs baseline {number(guardrail.get('baseline'))}"
    for limit in ("max", "maxIncrease"):
        if guardrail.get(limit) is not None:
            values.append(f"{limit} {number(guardrail.get(limit))}")
    return f"{guardrail.get('name')} ({', '.join(values)})"


def number(value: Any) -> str:
    """A measurement for people: 4 significant digits, `n/a` for none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a"
    return f"{value:.4g}"


def burn_rates_text(rates: Mapping[str, Any], limit: int = 4) -> str:
    """`burn 5m 30.2, 1h 20.1`: the highest burn rates first, at most `limit`."""
    known: Sequence[tuple[str, float]] = sorted(
        ((w, float(r)) for w, r in rates.items() if isinstance(r, int | float)),
        key=lambda item: -item[1],
    )
    if not known:
        return "burn rates unknown"
    return "burn " + ", ".join(f"{window} {number(rate)}" for window, rate in known[:limit])


def budget_text(remaining: Any) -> str:
    if isinstance(remaining, bool) or not isinstance(remaining, int | float):
        return "budget unknown"
    return f"{remaining * 100:.1f}% budget left"
