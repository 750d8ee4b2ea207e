"""The Slack-compatible body of a notice: `text` (the one-line summary Slack shows in
notifications and where blocks cannot be shown) and `blocks` (Block Kit: a header, the
message with the matrix cell and the change, the journeys in breach, the guardrails, the
next step, and the notice's id and time).

Pure: built from the generic document (`notices.notice`). Slack's limits are kept (header
150 characters, a text 3,000, a field 2,000, at most 10 fields) by clipping and by listing at
most `LISTED` journeys and guardrails. Text is escaped for mrkdwn (`&`, `<`, `>`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from canarygate.operator.notices import budget_text, burn_rates_text, number

LISTED: Final = 10
_HEADER_LIMIT: Final = 150
_TEXT_LIMIT: Final = 3000
_FIELD_LIMIT: Final = 2000

_ICONS: Final = {"Promoted": ":white_check_mark:", "RolledBack": ":rotating_light:"}


def slack_body(document: Mapping[str, Any]) -> dict[str, Any]:
    gate = document["gate"]
    where = f"{gate['namespace']}/{gate['name']}"
    revision = gate.get("revision") or "(none)"
    reason = str(document["reason"])
    icon = _ICONS.get(
        reason, ":warning:" if document["type"] == "Warning" else ":information_source:"
    )
    summary = f"{icon} {where} (revision {revision}) {reason}: {document['message']}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{reason}: {where}", _HEADER_LIMIT)},
        {
            "type": "section",
            "text": _mrkdwn(str(document["message"]) or reason),
            "fields": [
                _mrkdwn(f"*{title}*\n{value}", _FIELD_LIMIT) for title, value in _facts(document)
            ],
        },
    ]
    journeys = document.get("journeysInBreach") or []
    if journeys:
        blocks.append(_listing("Journeys in breach", [_journey(j) for j in journeys]))
    guardrails = document.get("guardrails") or []
    if guardrails:
        blocks.append(_listing("Guardrails", [_guardrail(g) for g in guardrails]))
    blocks.append({"type": "section", "text": _mrkdwn(f"*Next step*\n{document['nextStep']}")})
    blocks.append(
        {
            "type": "context",
            "elements": [
                _mrkdwn(f"canarygate · {document['time']} · {document['id']}", _FIELD_LIMIT)
            ],
        }
    )
    return {"text": _escape(summary)[:_TEXT_LIMIT], "blocks": blocks}


def _facts(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    gate, change, cell = document["gate"], document["change"], document["cell"]
    weight = f"{_percent(change.get('weightFrom'))} → {_percent(change.get('weightTo'))}"
    return [
        ("Revision", str(gate.get("revision") or "(none)")),
        ("Phase", str(change.get("phase") or "(none)")),
        ("Canary traffic", weight),
        (
            "Matrix cell",
            f"{cell.get('health') or '?'} x {cell.get('risk') or '?'} → {cell.get('mode') or '?'}",
        ),
    ]


def _percent(value: Any) -> str:
    return "?" if value is None else f"{value}%"


def _journey(journey: Mapping[str, Any]) -> str:
    objective = journey.get("objective")
    target = f", objective {number(objective)}%" if objective is not None else ""
    return (
        f"*{journey.get('name')}*: {journey.get('health')}{target}; "
        f"{burn_rates_text(journey.get('burnRates') or {})}; "
        f"{budget_text(journey.get('budgetRemaining'))}"
    )


def _guardrail(guardrail: Mapping[str, Any]) -> str:
    values = f"canary {number(guardrail.get('canary'))}"
    if guardrail.get("baseline") is not None:
        values += f" vs baseline {number(guardrail.get('baseline'))}"
    for limit in ("max", "maxIncrease"):
        if guardrail.get(limit) is not None:
            values += f", {limit} {number(guardrail.get(limit))}"
    if guardrail.get("samples") is not None:
        values += f", {number(guardrail.get('samples'))} samples"
    return f"*{guardrail.get('name')}*: {guardrail.get('verdict')} ({values})"


def _listing(title: str, lines: Sequence[str]) -> dict[str, Any]:
    shown = [f"• {line}" for line in lines[:LISTED]]
    if len(lines) > LISTED:
        shown.append(f"… and {len(lines) - LISTED} more")
    return {"type": "section", "text": _mrkdwn(f"*{title}*\n" + "\n".join(shown))}


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _mrkdwn(text: str, limit: int = _TEXT_LIMIT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(_escape(text), limit)}


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
