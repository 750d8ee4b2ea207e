"""Start and stop a real Prometheus server (Debian's package) for tests, demo and benchmarks.

One place owns the process handling so integration tests, e2e fixtures, the demo and the
benchmark all start Prometheus the same way: free port, readiness wait, clean shutdown.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx


class PrometheusUnavailable(RuntimeError):
    """Prometheus is not installed or did not become ready."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        raise PrometheusUnavailable(
            "the `prometheus` binary is not on PATH; install Debian's package: "
            "apt-get install -y prometheus (.ci/run does this)"
        )
    return path


@dataclass
class RunningPrometheus:
    """A Prometheus process on loopback. Use as a context manager or call stop()."""

    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    _owned_dirs: list[Path] = field(default_factory=list)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for directory in self._owned_dirs:
            shutil.rmtree(directory, ignore_errors=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> RunningPrometheus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_prometheus(
    *,
    config_yaml: str = "global: {}\n",
    data_dir: Path | None = None,
    own_data_dir: bool = False,
    extra_args: tuple[str, ...] = (),
    ready_timeout: float = 60.0,
) -> RunningPrometheus:
    """Start Prometheus on a free loopback port and wait until /-/ready answers 200.

    `data_dir` may hold TSDB blocks made by `promtool tsdb create-blocks-from openmetrics`;
    retention is set long so that historical fixture blocks are not deleted at start.
    With `own_data_dir`, a given `data_dir` is deleted when Prometheus stops.
    """
    workdir = Path(tempfile.mkdtemp(prefix="canarygate-prom-"))
    owned = [workdir]
    if data_dir is not None and own_data_dir:
        owned.append(data_dir)
    if data_dir is None:
        data_dir = workdir / "data"
        data_dir.mkdir()
    config_path = workdir / "prometheus.yml"
    config_path.write_text(config_yaml)
    log_path = workdir / "prometheus.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        prometheus_binary(),
        f"--config.file={config_path}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=100y",
        "--web.enable-lifecycle",
        "--log.level=warn",
        *extra_args,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    running = RunningPrometheus(url, data_dir, process, log_path, owned)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = running.log_tail()
            running.stop()
            raise PrometheusUnavailable(f"prometheus exited early:\n{tail}")
        try:
            if httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200:
                return running
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    tail = running.log_tail()
    running.stop()
    raise PrometheusUnavailable(f"prometheus not ready after {ready_timeout}s:\n{tail}")
