"""Read CanaryGate manifests and turn every validation problem into a SpecError naming the field."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from canarygate.api.v1alpha1 import API_VERSION, KIND, CanaryGate
from canarygate.core.errors import SpecError


def field_path(location: tuple[int | str, ...]) -> str:
    """('spec', 'journeys', 0, 'objective') -> 'spec.journeys[0].objective'."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(document)"


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def parse_gate(document: Any, *, source: str = "manifest") -> CanaryGate:
    if not isinstance(document, dict):
        raise SpecError("(document)", f"{source} must be a mapping, got {type(document).__name__}")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        got = f"{document.get('apiVersion')}/{document.get('kind')}"
        raise SpecError("apiVersion", f"expected {API_VERSION} {KIND}, got {got}")
    try:
        return CanaryGate.model_validate(document)
    except ValidationError as error:
        problems = error.errors()
        first = problems[0]
        lines = [f"{field_path(p['loc'])}: {_message(dict(p))}" for p in problems]
        raise SpecError(field_path(first["loc"]), "; ".join(lines)) from None


def load_gates(path: Path) -> list[CanaryGate]:
    """All CanaryGates in a YAML file (multi-document files and `kind: List` are accepted)."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as error:
        raise SpecError("(file)", f"cannot read {path}: {error.strerror or error}") from None
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as error:
        raise SpecError("(file)", f"{path} is not valid YAML: {error}") from None
    items: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and document.get("kind") == "List":
            items.extend(document.get("items") or [])
        else:
            items.append(document)
    gates = [parse_gate(item, source=str(path)) for item in items]
    if not gates:
        raise SpecError("(file)", f"{path} holds no CanaryGate")
    return gates
