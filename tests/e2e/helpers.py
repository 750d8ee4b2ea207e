"""Helpers for the end-to-end tests: condition waits, the cluster handle, Prometheus queries."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from lightkube import Client

from lab.prometheus import RunningPrometheus

T = TypeVar("T")


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.5,
) -> T:
    """Poll `probe` until it returns something other than None/False; fail with the last
    value seen (or the last exception) after `timeout` seconds. Never a blind sleep."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except Exception as error:  # the probe's failure is evidence, not the verdict
            value, last = None, error
        else:
            last = value
        if value is not None and value is not False:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    kubectl_path: str
    client: Client

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        result = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr}")
        return result.stdout


@dataclass(frozen=True)
class SimulatedTraffic:
    """The simulator process and how it finds its traffic object."""

    url: str
    namespace: str
    route: str
    stable: str
    canary: str
    process: subprocess.Popen[bytes]

    def set_faults(self, **faults: Any) -> None:
        httpx.post(f"{self.url}/faults", json=faults, timeout=5).raise_for_status()


def query(prometheus: RunningPrometheus, promql: str) -> float | None:
    """The single value of an instant query, or None when it returns no sample."""
    response = httpx.get(f"{prometheus.url}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    result = response.json()["data"]["result"]
    if not result:
        return None
    return float(result[0]["value"][1])
