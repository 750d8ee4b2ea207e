"""Helpers for the end-to-end tests: condition waits, the cluster handle, Prometheus queries,
a relay that holds an API server's connections until released."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from lightkube import Client

from lab import crds
from lab.prometheus import RunningPrometheus

T = TypeVar("T")


def wait_until(
    what: str,
    probe: Callable[[], T | None],
    *,
    timeout: float = 60.0,
    interval: float = 0.5,
) -> T:
    """Poll `probe` until it returns a value: anything but None, False or an empty string or
    collection (a watch that has seen nothing yet, a command that printed nothing); zero is a
    value. Fail with the last value seen (or the last exception) after `timeout` seconds.
    Never a blind sleep."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            value = probe()
        except Exception as error:  # the probe's failure is evidence, not the verdict
            value, last = None, error
        else:
            last = value
        if arrived(value):
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")
        time.sleep(interval)


def arrived(value: object) -> bool:
    """What `wait_until` takes for an answer. An empty list used to count: a watch waited for
    with `lambda: watch.seen` was taken as started before it had listed anything, and missed
    the object's first version (a CI failure)."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | bytes | list | tuple | dict | set) and len(value) == 0)


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

    def wait_crds_established(self, *names: str, timeout: float = 60.0) -> None:
        """Polls the conditions: `kubectl wait` fails outright on a CRD not yet given any."""

        def run(*args: str) -> str:
            done = subprocess.run(
                [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(done.stderr.strip())
            return done.stdout

        try:
            crds.wait_established(run, names, timeout=timeout)
        except crds.CRDsNotEstablished as error:
            pytest.fail(str(error))


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


class HeldRelay:
    """A TCP relay to `upstream` that accepts connections at once but relays nothing until
    `release()`: a client's first request (TLS passes through untouched) hangs until then,
    as against an API server that is slow to answer."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self.accepted = 0
        self._released = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._closing.set()
        self._released.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._sockets.append(client)
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        self._released.wait()
        if self._closing.is_set():
            return
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self._lock:
            self._sockets.append(server)
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
