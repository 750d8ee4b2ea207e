"""Integration fixtures: one real Prometheus per session, serving the synthetic histories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.fixture_prometheus import start_fixture_prometheus
from lab.histories import FIXTURE_NOW
from lab.prometheus import RunningPrometheus

from .running import Cli, CliResult, Evaluate

CLI = [sys.executable, "-m", "canarygate.cli.main"]


@pytest.fixture(scope="session")
def prometheus() -> Iterator[RunningPrometheus]:
    running = start_fixture_prometheus()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def cli() -> Cli:
    """Run `canarygate ARGS...` as a user or script would."""

    def run(*args: str, timeout: float = 300) -> CliResult:
        done = subprocess.run(
            [*CLI, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ},
            check=False,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def evaluate(prometheus: RunningPrometheus, tmp_path: Path) -> Evaluate:
    """Run `canarygate evaluate -o json` on a gate document, as a user or script would."""

    def run(
        gate: dict[str, Any],
        *extra: str,
        at: str | None = None,
        prometheus_url: str | None = None,
    ) -> CliResult:
        path = tmp_path / f"gate-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(gate, sort_keys=False))
        args = [
            *CLI, "evaluate", "-f", str(path), "-o", "json",
            "--prometheus", prometheus_url or prometheus.url,
            "--at", at or FIXTURE_NOW.isoformat(), *extra,
        ]  # fmt: skip
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=60, env={**os.environ}, check=False
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run
