"""`--explain` in a table: the core's explanation (`core.explaining`) as an indented section,
every line through `printable` since it quotes queries and numbers from the spec."""

from __future__ import annotations

from collections.abc import Sequence

from canarygate.cli.sanitising import printable


def explanation_text(lines: Sequence[str]) -> str:
    return "\n\nExplain:\n" + "\n".join(printable(f"  {line}") for line in lines)
