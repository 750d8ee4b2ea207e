"""Read YAML manifests the way kubectl reads them, and refuse what kubectl refuses.

kubectl turns YAML into JSON with go-yaml (YAML 1.1) before the API server sees it. PyYAML
reads YAML 1.1 too, with differences that matter once the models are strict, so this loader
resolves plain scalars as go-yaml does: timestamps and `1:30` stay strings, `1e3` and
`1.5e3` are numbers, `y`/`n` are booleans. Duplicate keys are refused, as kubectl refuses
them. What a hostile file could do to a reader is bounded: its size (read by the caller),
how deep it nests, how far aliases expand it, and aliases that contain themselves.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_DEPTH: Final = 100
MAX_VALUES: Final = 1_000_000  # after expanding aliases; a real gate holds a few hundred


@dataclass(frozen=True)
class YamlProblem(Exception):
    """Text that is not acceptable YAML; `line` and `column` count from 1 (0 when unknown)."""

    message: str
    line: int = 0
    column: int = 0


class _Refused(yaml.MarkedYAMLError):
    """Acceptable to PyYAML, refused here: a duplicate key, a limit passed."""


@dataclass(frozen=True)
class YamlDocument:
    """One document of a YAML stream: its 1-based number, first line and value."""

    number: int
    line: int
    value: Any


_INT = re.compile(r"^[-+]?(0b[01][01_]*|0x[0-9a-fA-F][0-9a-fA-F_]*|0[0-7_]+|0|[1-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^[-+]?(\.[0-9][0-9_]*|[0-9][0-9_]*\.[0-9_]*|[0-9][0-9_]*)([eE][-+]?[0-9]+)?$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)
_BOOL = re.compile(
    r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$"
)
_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_MERGE = re.compile(r"^<<$")
_BOOL_VALUES = {"y": True, "yes": True, "true": True, "on": True}


class _ManifestLoader(yaml.SafeLoader):
    """PyYAML's safe loader with go-yaml's scalar resolution and the limits above."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _Refused(problem=f"nests deeper than {MAX_DEPTH} levels", problem_mark=mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, Hashable):
                continue  # the base class reports it, with its mark
            if key in seen:
                raise _Refused(
                    problem=f"duplicate key {key!r} (first at line {seen[key]})",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # PyYAML's constructors raise ValueError, AttributeError... for values such as
        # `0x_`, `!!timestamp x` or an integer of 5,000 digits: report them where they are.
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except Exception as error:
            raise _Refused(
                problem=f"cannot read this {node.tag.rpartition(':')[2] or 'value'}: {error}",
                problem_mark=node.start_mark,
            ) from None

    def construct_yaml_bool(self, node: ScalarNode) -> bool:
        return _BOOL_VALUES.get(str(self.construct_scalar(node)).lower(), False)


# Its own table (PyYAML would start from a copy of its parent's, timestamps included).
_ManifestLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("bool", _BOOL, "yYnNtTfFoO"),
    ("int", _INT, "-+0123456789"),
    ("float", _FLOAT, "-+0123456789."),
    ("merge", _MERGE, "<"),
    ("null", _NULL, ["~", "n", "N", ""]),
):
    _ManifestLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _pattern, list(_first))
_ManifestLoader.add_constructor("tag:yaml.org,2002:bool", _ManifestLoader.construct_yaml_bool)


def load_documents(text: str) -> Iterator[YamlDocument]:
    """Every document of `text`, empty ones included (numbers follow the `---` a person
    counts). Raises YamlProblem at the first thing that is not acceptable."""
    loader: _ManifestLoader | None = None
    number = 0
    try:
        loader = _ManifestLoader(text)  # checks every character first: may raise
        while loader.check_node():
            node = loader.get_node()
            number += 1
            if node is None:
                continue
            _check_expansion(node)
            yield YamlDocument(number, node.start_mark.line + 1, loader.construct_document(node))
    except yaml.MarkedYAMLError as error:
        raise _problem(error) from None
    except yaml.YAMLError as error:  # a ReaderError: a character YAML does not allow
        raise _reader_problem(error, text) from None
    except RecursionError:
        raise YamlProblem(f"nests too deeply (more than {MAX_DEPTH} levels)") from None
    finally:
        if loader is not None:
            loader.dispose()


def _check_expansion(root: Node) -> None:
    """Refuse alias bombs before they are built: count the values each node stands for, an
    alias counting as often as it is used, and refuse aliases that contain themselves."""
    done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height)
    active: set[int] = set()

    def visit(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in done:
            values, height = done[key]
        else:
            if key in active:
                raise _Refused(
                    problem="an alias refers to a node that contains it",
                    problem_mark=node.start_mark,
                )
            if depth > MAX_DEPTH:
                raise _Refused(
                    problem=f"aliases nest it deeper than {MAX_DEPTH} levels",
                    problem_mark=node.start_mark,
                )
            active.add(key)
            values, height = 1, 1
            for child in _children(node):
                child_values, child_height = visit(child, depth + 1)
                values += child_values
                height = max(height, child_height + 1)
            active.discard(key)
            done[key] = values, height
        if values > MAX_VALUES or depth + height > MAX_DEPTH + 1:
            raise _Refused(
                problem=f"aliases expand it past {MAX_VALUES:,} values or {MAX_DEPTH} levels",
                problem_mark=node.start_mark,
            )
        return values, height

    visit(root, 1)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _problem(error: yaml.MarkedYAMLError) -> YamlProblem:
    mark = error.problem_mark or error.context_mark
    message = error.problem or error.context or "?"
    if not isinstance(error, _Refused):
        message = f"not valid YAML: {message}"
    if error.context and error.problem and error.context_mark is not None:
        where = error.context_mark
        message += f" ({error.context} at {where.line + 1}:{where.column + 1})"
    elif error.context and error.problem:
        message += f" ({error.context})"
    if mark is None:
        return YamlProblem(message)
    return YamlProblem(message, mark.line + 1, mark.column + 1)


def _reader_problem(error: yaml.YAMLError, text: str) -> YamlProblem:
    position = getattr(error, "position", None)
    character = getattr(error, "character", None)
    code = ord(character) if isinstance(character, str) else character
    shown = f"#x{code:04x}" if isinstance(code, int) else "?"
    message = f"character {shown} is not allowed in YAML"
    if not isinstance(position, int):
        return YamlProblem(message)
    before = text[:position]
    line = before.count("\n") + 1
    return YamlProblem(message, line, position - (before.rfind("\n") + 1) + 1)
