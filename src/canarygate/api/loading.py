"""Load CanaryGate manifests and turn every problem into one error that says where it is.

`load_gates` reads a file or standard input (at most MAX_MANIFEST_BYTES, UTF-8), parses it
as kubectl would (`api.reading`), and validates every CanaryGate in it; `parse_gate`
validates one already-parsed object (the operator's path). Every problem is a SpecError:
`UnreadableManifest` when the bytes could not be had, `ManifestError` otherwise, whose text
names the source, the document when the file holds several, and each faulty field once.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from canarygate.api.reading import YamlDocument, YamlProblem, load_documents
from canarygate.api.v1alpha1 import API_VERSION, KIND, CanaryGate
from canarygate.core.errors import SpecError

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
STDIN: Final = "-"
Problem = tuple[str, str]  # (field path, message); an empty field means the whole document


class ManifestError(SpecError):
    """A manifest that holds no valid gate. `field` and `message` are the first problem's
    (the message goes on with the others, so `f"{field}: {message}"` tells all of it);
    `str()` adds where: the source, `document N` when the stream holds several."""

    def __init__(
        self,
        source: str,
        problems: Sequence[Problem],
        *,
        document: int | None = None,
        line: int = 0,
        column: int = 0,
    ) -> None:
        self.source = source
        self.problems = tuple(problems) or (("", "invalid"),)
        self.document = document
        self.line, self.column = line, column
        (field, first), *rest = self.problems
        super().__init__(field, "; ".join([first, *(_joined(p) for p in rest)]))

    @property
    def where(self) -> str:
        where = self.source
        if self.line:
            where += f":{self.line}:{self.column}"
        if self.document is not None:
            where += f" document {self.document}"
        return where

    def __str__(self) -> str:
        return f"{self.where}: " + "; ".join(_joined(p) for p in self.problems)


class UnreadableManifest(ManifestError):
    """The manifest's bytes could not be had: no such file, a directory, too large, closed
    standard input. `str()` reads `cannot read <source>: <reason>`."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(source, [("", reason)])

    def __str__(self) -> str:
        return f"cannot read {self.source}: {self.message}"


def _joined(problem: Problem) -> str:
    field, message = problem
    return f"{field}: {message}" if field else message


def field_path(location: Sequence[int | str]) -> str:
    """('spec', 'journeys', 0, 'objective') -> 'spec.journeys[0].objective'."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


# What a value of each YAML/JSON type is called in a message ("got a string").
_KINDS: Final = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (bytes, "binary data"),
    (list, "a list"),
    (dict, "a mapping"),
)
_TYPE_ERRORS: Final = {
    "string_type": "must be a string",
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "bool_type": "must be a boolean",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _KINDS:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _message(error: ErrorDetails) -> str:
    kind = error.get("type", "")
    if kind in _TYPE_ERRORS:
        got = _kind(error.get("input"))
        if kind == "int_type" and isinstance(error.get("input"), float):
            got = "a number with a fraction"
        return f"{_TYPE_ERRORS[kind]}, got {got}"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")


def _problems(error: ValidationError) -> list[Problem]:
    """One entry per field, in the order pydantic found them, messages of a field joined."""
    by_field: dict[str, list[str]] = {}
    for details in error.errors():
        messages = by_field.setdefault(field_path(details["loc"]), [])
        message = _message(details)
        if message not in messages:
            messages.append(message)
    return [(field, " and ".join(messages)) for field, messages in by_field.items()]


def parse_gate(document: Any, *, source: str = "manifest") -> CanaryGate:
    """Validate one parsed CanaryGate; raise ManifestError listing every problem."""
    if not isinstance(document, dict):
        raise ManifestError(
            source, [("", f"a CanaryGate must be a mapping, got {_kind(document)}")]
        )
    api_version, kind = document.get("apiVersion"), document.get("kind")
    if api_version != API_VERSION or kind != KIND:
        got = f"apiVersion {_shown(api_version)}, kind {_shown(kind)}"
        raise ManifestError(source, [("apiVersion", f"expected {API_VERSION} {KIND}, got {got}")])
    try:
        return CanaryGate.model_validate(document)
    except ValidationError as error:
        raise ManifestError(source, _problems(error)) from None


def load_gates(path: Path | str) -> list[CanaryGate]:
    """All CanaryGates in a YAML file or standard input (`-`): several documents, or a
    `kind: List`. Raises UnreadableManifest or ManifestError; never anything else."""
    source = "standard input" if str(path) == STDIN else str(path)
    text = _decoded(_read(path, source), source)
    try:
        documents = list(load_documents(text))
    except YamlProblem as problem:
        raise ManifestError(
            source, [("", problem.message)], line=problem.line, column=problem.column
        ) from None
    several = sum(d.value is not None for d in documents) > 1
    gates: list[CanaryGate] = []
    for document in documents:
        if document.value is not None:
            gates.extend(_gates_in(document, source, several=several))
    if not gates:
        raise ManifestError(source, [("", "holds no CanaryGate")])
    return gates


def _gates_in(document: YamlDocument, source: str, *, several: bool) -> list[CanaryGate]:
    number = document.number if several else None
    value = document.value
    if isinstance(value, dict) and value.get("kind") == "List":
        items = value.get("items")
        if items is None:
            return []
        if not isinstance(items, list):
            problem = ("items", f"must be a list, got {_kind(items)}")
            raise ManifestError(source, [problem], document=number)
        return [_gate(item, source, number, prefix=f"items[{i}]") for i, item in enumerate(items)]
    return [_gate(value, source, number, prefix="")]


def _gate(value: Any, source: str, document: int | None, *, prefix: str) -> CanaryGate:
    try:
        return parse_gate(value, source=source)
    except ManifestError as error:
        problems = [
            (f"{prefix}.{field}" if field else prefix, message) if prefix else (field, message)
            for field, message in error.problems
        ]
        raise ManifestError(source, problems, document=document) from None


def _read(path: Path | str, source: str) -> bytes:
    """At most MAX_MANIFEST_BYTES: `-f /dev/zero` must end, not fill the memory."""
    try:
        if str(path) == STDIN:
            data = _read_stdin(source)
        else:
            with open(path, "rb") as file:
                data = file.read(MAX_MANIFEST_BYTES + 1)
    except IsADirectoryError:
        raise UnreadableManifest(source, "it is a directory") from None
    except OSError as error:
        raise UnreadableManifest(source, error.strerror or type(error).__name__) from None
    except ValueError as error:  # a NUL byte in the path, a stream already closed
        raise UnreadableManifest(source, str(error)) from None
    if len(data) > MAX_MANIFEST_BYTES:
        limit = MAX_MANIFEST_BYTES // (1024 * 1024)
        raise UnreadableManifest(source, f"larger than {limit} MiB, the limit for a manifest")
    return data


def _read_stdin(source: str) -> bytes:
    stdin = sys.stdin
    if stdin is None or stdin.closed:  # None: started with standard input closed (`0<&-`)
        raise UnreadableManifest(source, "it is closed")
    stream: BinaryIO | None = getattr(stdin, "buffer", None)
    if stream is None:  # a text stream put in place of the real one
        return stdin.read(MAX_MANIFEST_BYTES + 1).encode("utf-8", "surrogateescape")
    return stream.read(MAX_MANIFEST_BYTES + 1)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _decoded(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = data[error.start]
        problem = f"not UTF-8 text (byte 0x{byte:02x} at offset {error.start})"
        raise ManifestError(source, [("", problem)]) from None
