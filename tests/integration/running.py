"""Types shared by the integration tests: the CLI result and the `cli` and `evaluate`
fixtures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


class Evaluate(Protocol):
    def __call__(
        self,
        gate: dict[str, Any],
        *extra: str,
        at: str | None = None,
        prometheus_url: str | None = None,
    ) -> CliResult: ...


class Cli(Protocol):
    def __call__(self, *args: str, timeout: float = 300) -> CliResult: ...
