"""Log output of the operator: readable text, or one JSON object per line for log pipelines.

Decision logs carry structured fields (gate, revision, action, health, risk, mode, weights),
transitions (what an Event says) gate, revision and event, and a gate's problems gate and
revision; the JSON format puts them at the top level so they can be filtered without parsing
text.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

STRUCTURED_FIELDS = (
    "gate",
    "revision",
    "event",
    "action",
    "health",
    "risk",
    "mode",
    "weight",
    "weight_next",
)


def gate_fields(gate: object, revision: str | None) -> dict[str, Any]:
    """The `extra` of a log line about one gate."""
    return {"gate": str(gate), "revision": revision}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str)


def configure_logging(log_format: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # kopf narrates its own startup, and the HTTP clients every request, at INFO: keep only
    # their warnings and errors, whatever the level asked for canarygate's own lines.
    for noisy in ("kopf", "httpx", "httpx2", "httpcore", "httpcore2", "aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
