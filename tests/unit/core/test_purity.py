"""The core imports nothing but the standard library and itself (import-linter checks layers;
this checks the rule import-linter cannot express: no third-party package at all)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import canarygate.core

CORE = Path(canarygate.core.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_only_the_standard_library_and_itself() -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    offenders = {}
    for path in sorted(CORE.rglob("*.py")):
        foreign = {r for r in imported_roots(path) if r not in allowed and r != "canarygate"}
        own = {
            module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and (module := node.module)
            if module.startswith("canarygate") and not module.startswith("canarygate.core")
        }
        if foreign or own:
            offenders[path.name] = sorted(foreign | own)
    assert offenders == {}


def test_core_performs_no_io_or_clock_reads() -> None:
    banned = {"open", "print", "input"}
    banned_attributes = {"now", "utcnow", "time", "monotonic", "sleep", "getenv"}
    found = []
    for path in sorted(CORE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in banned:
                    found.append(f"{path.name}:{node.lineno} {func.id}()")
                if isinstance(func, ast.Attribute) and func.attr in banned_attributes:
                    found.append(f"{path.name}:{node.lineno} .{func.attr}()")
    assert found == []
