"""The core is pure: it imports only an allowlist of standard-library modules and itself, and
calls nothing that reads a clock, the environment, randomness or files. import-linter checks
the layers; this checks what import-linter cannot express. A module joins the allowlist only
if it holds pure computation."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import canarygate.core

CORE = Path(canarygate.core.__file__).parent

PURE_STDLIB = frozenset(
    {
        "__future__",
        "collections",
        "collections.abc",
        "dataclasses",
        "datetime",  # the types only: reading the clock is refused below
        "enum",
        "functools",
        "ipaddress",
        "itertools",
        "math",
        "re",
        "typing",
        "urllib.parse",
    }
)
# Calls that would smuggle the outside world in even through an allowed module.
BANNED_CALLS = frozenset({"open", "print", "input", "exec", "eval", "__import__"})
BANNED_ATTRIBUTES = frozenset(
    {"now", "utcnow", "today", "time", "monotonic", "sleep", "getenv", "environ"}
)


def impurities(source: str) -> list[str]:
    """Every import outside the allowlist and every banned call in `source`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if not _allowed(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not _allowed(node.module):
                found.append(f"from {node.module}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in BANNED_CALLS:
                found.append(f"{func.id}() at line {node.lineno}")
            if isinstance(func, ast.Attribute) and func.attr in BANNED_ATTRIBUTES:
                found.append(f".{func.attr}() at line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr == "environ":
            found.append(f".environ at line {node.lineno}")
    return found


def _allowed(module: str) -> bool:
    return (
        module in PURE_STDLIB
        or module == "canarygate.core"
        or module.startswith("canarygate.core.")
    )


def test_core_modules_are_pure() -> None:
    offenders = {
        path.name: found
        for path in sorted(CORE.rglob("*.py"))
        if (found := impurities(path.read_text()))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "import logging",
        "import time",
        "import random",
        "from os import environ",
        "import canarygate.api",
        "import pydantic",
        "from datetime import datetime\nx = datetime.now()",
        "import os.path",
        "x = open('f')",
        "import re\ny = foo.environ",
    ],
)
def test_the_purity_check_catches_what_it_must(source: str) -> None:
    assert impurities(source)
