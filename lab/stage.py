"""The live stage shared by the e2e tests, the demo and the latency benchmark: real processes
on loopback around a real control plane.

- `TargetedPrometheus`: Debian's Prometheus scraping every second whatever targets are
  registered at run time (file-based service discovery), each with its own labels, so many
  simulators can share one Prometheus and each gate selects its own with a label; `kill()`
  and `restart()` (same port, configuration and data) stage a Prometheus outage.
- `start_simulator`: the traffic simulator following one traffic object.
- `start_operator`: `python -m canarygate run` as its own process, with helpers to wait for
  readiness, stop it with SIGTERM or kill it with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from lab.prometheus import RunningPrometheus, free_port, start_prometheus

REPO = Path(__file__).resolve().parents[1]

SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: simulators
    scrape_interval: 1s
    scrape_timeout: 900ms
    file_sd_configs:
      - files: ["{targets}"]
        refresh_interval: 1s
"""


class StageError(RuntimeError):
    """A process of the stage did not start or did not become ready; the message has its log."""


def wait_for(what: str, probe: object, *, timeout: float, interval: float = 0.1) -> None:
    """Poll `probe()` until truthy; raise StageError naming `what` after `timeout`, or at once
    when the probe itself raises StageError (the process it waits for has exited)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = probe()  # type: ignore[operator]
        except StageError:
            raise
        except Exception as error:  # the probe failing is evidence, not the verdict
            last = error
        else:
            if last:
                return
        time.sleep(interval)
    raise StageError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


@dataclass
class TargetedPrometheus:
    """A Prometheus whose scrape targets are added while it runs."""

    running: RunningPrometheus
    targets_file: Path
    targets: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.running.url

    def add_target(self, address: str, **labels: str) -> None:
        self.targets[address] = labels
        self._write()

    def remove_target(self, address: str) -> None:
        self.targets.pop(address, None)
        self._write()

    def _write(self) -> None:
        groups = [{"targets": [a], "labels": labels} for a, labels in self.targets.items()]
        scratch = self.targets_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(groups))
        scratch.replace(self.targets_file)  # atomic: Prometheus never reads half a file

    def query(self, promql: str) -> float | None:
        """The single value of an instant query now, or None when there is none."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        result = response.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_scraped(self, selector: str, timeout: float = 30.0) -> None:
        wait_for(
            f"Prometheus to scrape {selector}",
            lambda: self.query(f"max(up{selector})") == 1.0,
            timeout=timeout,
        )

    def stop(self) -> None:
        self.running.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill: no shutdown, the data left as it is on disk."""
        process = self.running.process
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)

    def restart(self, ready_timeout: float = 60.0) -> None:
        """After kill() (or a crash): the same Prometheus again, on the same port, with the same
        configuration, targets and data directory (the TSDB replays its write-ahead log)."""
        old = self.running
        if old.process.poll() is None:
            raise StageError("Prometheus is still running; kill() it first")
        with old.log_path.open("ab") as log:
            process = subprocess.Popen(old.process.args, stdout=log, stderr=subprocess.STDOUT)
        self.running = RunningPrometheus(
            old.url, old.data_dir, process, old.log_path, old._owned_dirs
        )

        def ready() -> bool:
            if process.poll() is not None:
                raise StageError(f"prometheus exited on restart:\n{self.running.log_tail()}")
            return httpx.get(f"{old.url}/-/ready", timeout=1.0).status_code == 200

        wait_for("Prometheus to be ready again", ready, timeout=ready_timeout)

    def __enter__(self) -> TargetedPrometheus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_targeted_prometheus() -> TargetedPrometheus:
    workdir = Path(tempfile.mkdtemp(prefix="canarygate-stage-"))
    targets = workdir / "targets.json"
    targets.write_text("[]")
    running = start_prometheus(config_yaml=SCRAPE_CONFIG.replace("{targets}", str(targets)))
    return TargetedPrometheus(running, targets)


@dataclass
class Process:
    """A child process with its log file; stop() is SIGTERM then SIGKILL."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up, as when a node dies."""
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=10)


def _spawn(
    name: str,
    args: Sequence[str],
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    program: Sequence[str] = (),
) -> Process:
    """`program` + `args` (default program: this Python) with its output in a log file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*(program or [sys.executable]), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
    return Process(name, process, log_path)


@dataclass
class Simulator(Process):
    url: str = ""

    def set_faults(self, **faults: object) -> None:
        httpx.post(f"{self.url}/faults", json=faults, timeout=5).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.url}/faults", timeout=5).raise_for_status()

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")


def start_simulator(
    name: str,
    *,
    kubeconfig: Path,
    namespace: str,
    provider: str,
    obj: str = "",
    stable: str = "",
    canary: str = "",
    log_dir: Path,
    rate: float = 50.0,
    extra: Sequence[str] = (),
) -> Simulator:
    port = free_port()
    args = [
        "-m", "lab.simulator", f"--provider={provider}", f"--namespace={namespace}",
        f"--kubeconfig={kubeconfig}", f"--rate={rate}", "--tick=0.1", "--poll-interval=0.2",
        "--host=127.0.0.1", f"--port={port}", "--log-level=WARNING", *extra,
    ]  # fmt: skip
    for flag, value in (("--object", obj), ("--stable", stable), ("--canary", canary)):
        if value:
            args.append(f"{flag}={value}")
    spawned = _spawn(f"simulator-{name}", args, log_dir)
    simulator = Simulator(
        spawned.name, spawned.process, spawned.log_path, f"http://127.0.0.1:{port}"
    )

    def healthy() -> bool:
        if not simulator.alive():
            raise StageError(f"simulator {name} exited:\n{simulator.log_tail()}")
        return httpx.get(f"{simulator.url}/healthz", timeout=2).status_code == 200

    wait_for(f"simulator {name}", healthy, timeout=30)
    return simulator


@dataclass
class Operator(Process):
    health_url: str = ""
    metrics_url: str = ""

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.health_url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        def probe() -> bool:
            if not self.alive():
                raise StageError(f"the operator exited:\n{self.log_tail()}")
            return self.ready()

        wait_for("the operator to be ready", probe, timeout=timeout)

    def metrics(self) -> str:
        return httpx.get(f"{self.metrics_url}/metrics", timeout=5).text


def start_operator(
    *,
    kubeconfig: Path,
    prometheus: str | None,
    log_dir: Path,
    namespaces: Sequence[str] = (),
    extra: Sequence[str] = (),
    name: str = "operator",
    wait: bool = True,
    env: Mapping[str, str] | None = None,
    program: Sequence[str] = (),
) -> Operator:
    """`python -m canarygate run` on free ports; `env` adds to its environment (POD_NAME
    names a replica: its Events' reportingInstance and its Lease identity). `program`
    replaces `python -m canarygate` (e.g. the `canarygate` entry point a chart's container
    runs)."""
    health, metrics = free_port(), free_port()
    args = [
        *(() if program else ("-m", "canarygate")), "run", f"--kubeconfig={kubeconfig}",
        f"--health-address=127.0.0.1:{health}", f"--metrics-address=127.0.0.1:{metrics}",
        *(f"--namespace={ns}" for ns in namespaces), *extra,
    ]  # fmt: skip
    if prometheus:
        args.append(f"--prometheus={prometheus}")
    spawned = _spawn(name, args, log_dir, env, program)
    operator = Operator(
        spawned.name,
        spawned.process,
        spawned.log_path,
        f"http://127.0.0.1:{health}",
        f"http://127.0.0.1:{metrics}",
    )
    if wait:
        operator.wait_ready()
    return operator
