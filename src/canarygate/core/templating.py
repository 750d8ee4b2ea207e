"""Substitution of the two template variables, `{{window}}` and `{{interval}}`, into PromQL."""

from __future__ import annotations

import re
from collections.abc import Iterable

from canarygate.core.errors import SpecError

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)?\s*\}\}")
TEMPLATE_VARIABLES = frozenset({"window", "interval"})


def variables_in(query: str) -> set[str]:
    """Names used between double braces; an empty `{{ }}` yields the empty string."""
    return {match.group(1) or "" for match in _VARIABLE.finditer(query)}


def check_template(
    query: str, *, field: str, allowed: Iterable[str], required: Iterable[str] = ()
) -> None:
    """Refuse unknown or missing variables early, so malformed PromQL never reaches Prometheus."""
    if not query.strip():
        raise SpecError(field, "query must not be empty")
    allowed_set = set(allowed)
    used = variables_in(query)
    for name in sorted(used - allowed_set):
        shown = f"{{{{{name}}}}}"
        known = ", ".join(f"{{{{{v}}}}}" for v in sorted(allowed_set)) or "none"
        raise SpecError(field, f"unknown template variable {shown}; allowed here: {known}")
    for name in sorted(set(required) - used):
        raise SpecError(field, f"query must use {{{{{name}}}}} so each window is measured")


def render(query: str, values: dict[str, str]) -> str:
    """Replace `{{ name }}` by `values[name]`; names not given are left untouched."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or ""
        return values.get(name, match.group(0))

    return _VARIABLE.sub(substitute, query)
