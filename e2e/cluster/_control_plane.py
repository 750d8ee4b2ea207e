"""Run the local control plane as plain background processes on loopback.

Layout of the cluster directory (default <cache>/cluster, or $CANARYGATE_CLUSTER_DIR):
    state.json        ports, versions and binary paths of the running cluster
    kubeconfig        admin kubeconfig (the path `up` prints)
    cluster.env       KUBECONFIG=..., CANARYGATE_KUBECTL=... for shells and test fixtures
    pki/              CA, serving cert, service-account keys, token file, component kubeconfigs
    etcd/             etcd data (wiped on every fresh start)
    logs/<name>.log   one log per component
    pids/<name>.pid   one pidfile per component; `down` stops by these and verifies
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from _build import go_mod_download, is_complete
from _common import (
    KUBERNETES_COMMANDS,
    VERSIONS,
    ClusterError,
    cluster_dir,
    elapsed,
    kubernetes_bin_dir,
    kwok_bin_dir,
    log,
    tail,
    wait_for,
)
from _pki import Pki, create_pki, write_kubeconfig

NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.96.0.0/16"  # cluster IPs are only allocated, never routed: no kube-proxy
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
PORT_NAMES = (
    "etcd",
    "etcd-peer",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
)
TIMEOUT = float(os.environ.get("CANARYGATE_CLUSTER_TIMEOUT", "120"))


@dataclass
class Cluster:
    directory: Path = field(default_factory=cluster_dir)

    # -- where things are -------------------------------------------------------------
    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def pki(self) -> Pki:
        return Pki(self.directory / "pki")

    @property
    def kubectl(self) -> Path:
        return kubernetes_bin_dir() / "kubectl"

    def log_path(self, name: str) -> Path:
        return self.directory / "logs" / f"{name}.log"

    def pid_path(self, name: str) -> Path:
        return self.directory / "pids" / f"{name}.pid"

    def state(self) -> dict[str, object]:
        try:
            data: dict[str, object] = json.loads((self.directory / "state.json").read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return data

    def ports(self) -> dict[str, int]:
        ports = self.state().get("ports", {})
        return dict(ports) if isinstance(ports, dict) else {}

    # -- processes ---------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        """The component's pid if its pidfile names a live process that is really it."""
        try:
            pid = int(self.pid_path(name).read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        program = Path(cmdline[0].decode(errors="replace")).name if cmdline[0] else ""
        # An empty command line is a process still in exec(); anything else that is not
        # the component means the pidfile is stale and the pid was reused.
        if program and program != name:
            return None
        if _is_zombie(pid):
            return None
        return pid

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        self.pid_path(name).parent.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as log_file:
            process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env={**os.environ, **(env or {})},
                start_new_session=True,  # outlives `up`; its own group, so `down` kills all
            )
        self.pid_path(name).write_text(f"{process.pid}\n")

    def stray_pids(self) -> list[int]:
        """Processes whose command line points into this cluster directory (ours) that no
        live pidfile accounts for: leftovers of a killed `up`."""
        known = {self.pid(name) for name in COMPONENTS}
        marker = str(self.directory).encode()
        strays = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) in known:
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if (
                marker in cmdline
                and int(entry.name) != os.getpid()
                and not _is_zombie(int(entry.name))
            ):
                strays.append(int(entry.name))
        return strays

    def stop_all(self, timeout: float = 30.0) -> None:
        """SIGTERM every component (and any stray), wait for each to exit, SIGKILL the ones
        that outlive `timeout`, then verify nothing of this cluster is left."""
        targets: dict[str, int] = {}
        for name in reversed(COMPONENTS):  # clients first, etcd last
            if (pid := self.pid(name)) is not None:
                targets[name] = pid
        for pid in self.stray_pids():
            targets[f"stray process {pid}"] = pid
        for name, pid in targets.items():
            log(f"stopping {name} (pid {pid})")
            _signal_group(pid, signal.SIGTERM)
        for name, pid in targets.items():
            try:
                wait_for(f"{name} to exit", partial(_gone, pid), timeout=timeout)
            except ClusterError:
                log(f"{name} ignored SIGTERM for {timeout:.0f}s; sending SIGKILL")
                _signal_group(pid, signal.SIGKILL)
                wait_for(f"{name} to die after SIGKILL", partial(_gone, pid), timeout=10)
        for name in COMPONENTS:
            self.pid_path(name).unlink(missing_ok=True)
        left = [pid for pid in targets.values() if _alive(pid)] + self.stray_pids()
        if left:
            raise ClusterError(f"processes still running after down: {left}")

    # -- health ------------------------------------------------------------------------
    def health(self) -> dict[str, str]:
        """One line per component: 'ok' or what is wrong."""
        ports = self.ports()
        report: dict[str, str] = {}
        for name in COMPONENTS:
            pid = self.pid(name)
            if pid is None:
                report[name] = "not running"
                continue
            try:
                report[name] = (
                    f"ok (pid {pid}, :{ports.get(name)})"
                    if self.probe(name)
                    else (f"running (pid {pid}) but not healthy")
                )
            except ClusterError as error:
                report[name] = f"running (pid {pid}) but {error}"
        return report

    def probe(self, name: str) -> bool:
        ports = self.ports()
        port = ports.get(name)
        if port is None:
            raise ClusterError("no port recorded in state.json")
        if name == "etcd":
            body = _http_get(f"http://127.0.0.1:{port}/health")
            return body is not None and json.loads(body).get("health") == "true"
        if name == "kube-apiserver":
            context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
            token = self.pki.token("admin")
            return _http_get(f"https://127.0.0.1:{port}/readyz", context, token) == "ok"
        if name == "kwok":
            return _http_get(f"http://127.0.0.1:{port}/healthz") is not None
        # controller manager and scheduler serve /healthz on TLS with a self-signed cert
        # and allow it without authentication.
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        return _http_get(f"https://127.0.0.1:{port}/healthz", insecure) == "ok"

    def healthy(self) -> bool:
        return all(status.startswith("ok") for status in self.health().values())

    # -- kubectl -----------------------------------------------------------------------
    def run_kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        result = subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise ClusterError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def kubectl_ok(self, *args: str) -> bool:
        try:
            self.run_kubectl(*args, timeout=20)
        except (ClusterError, subprocess.TimeoutExpired):
            return False
        return True

    # -- up ----------------------------------------------------------------------------
    def up(self) -> Path:
        binaries = require_binaries()
        if self.state() and self.healthy() and self.kubeconfig.is_file():
            log(f"reusing the healthy cluster in {self.directory}")
            return self.kubeconfig
        if any(self.pid(name) for name in COMPONENTS) or self.stray_pids():
            log("found an unhealthy or partial cluster; stopping it first")
            self.stop_all()
        start = time.monotonic()
        try:
            self._fresh_start(binaries)
        except BaseException:
            if os.environ.get("CANARYGATE_KEEP_FAILED") != "1":
                log("start failed; stopping what was started (CANARYGATE_KEEP_FAILED=1 keeps it)")
                self.stop_all()
            raise
        log(f"cluster ready in {elapsed(time.monotonic() - start)}")
        return self.kubeconfig

    def _fresh_start(self, binaries: dict[str, Path]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for stale in ("etcd", "pki", "logs", "pids"):
            _rmtree(self.directory / stale)
        (self.directory / "state.json").unlink(missing_ok=True)
        ports = dict(zip(PORT_NAMES, _free_ports(len(PORT_NAMES)), strict=True))
        state = {
            "ports": ports,
            "versions": {
                "kubernetes": VERSIONS.kubernetes,
                "kwok": VERSIONS.kwok,
                "gateway-api": VERSIONS.gateway_api,
                "istio-api": VERSIONS.istio_api,
            },
            "binaries": {name: str(path) for name, path in binaries.items()},
            "node": NODE_NAME,
        }
        (self.directory / "state.json").write_text(json.dumps(state, indent=2) + "\n")
        pki = create_pki(self.directory / "pki")
        server = f"https://127.0.0.1:{ports['kube-apiserver']}"
        component_configs = {
            client: write_kubeconfig(
                pki.directory / f"{client}.kubeconfig", pki=pki, server=server, client=client
            )
            for client in ("kube-controller-manager", "kube-scheduler", "kwok")
        }

        self._launch("etcd", self._etcd_args(ports), timeout=30)
        self._launch("kube-apiserver", self._apiserver_args(binaries, pki, ports), timeout=TIMEOUT)
        write_kubeconfig(self.kubeconfig, pki=pki, server=server, client="admin")
        self._write_env()
        # These three only need the API server; start them together, then wait for each.
        self.start(
            "kube-controller-manager",
            self._controller_manager_args(binaries, pki, ports, component_configs),
        )
        self.start("kube-scheduler", self._scheduler_args(binaries, ports, component_configs))
        # Streaming watch-lists are off in the API server (see its flags), so kwok's client
        # falls back to list + watch at once.
        self.start("kwok", self._kwok_args(binaries, ports, component_configs))
        for name in ("kube-controller-manager", "kube-scheduler", "kwok"):
            self._wait_healthy(name, TIMEOUT)

        self.register_node()
        self.install_crds()
        self._wait_kubectl(
            "the service-account controller to create default/default",
            ("get", "serviceaccount", "default", "--namespace=default"),
            "kube-controller-manager",
        )

    def _launch(self, name: str, args: list[str], *, timeout: float) -> None:
        log(f"starting {name}")
        self.start(name, args)
        self._wait_healthy(name, timeout)

    def _wait_healthy(self, name: str, timeout: float) -> None:
        def check() -> bool:
            if self.pid(name) is None:
                raise ClusterError(
                    f"{name} exited during start-up; log tail:\n{tail(self.log_path(name))}"
                )
            try:
                return self.probe(name)
            except (ClusterError, ValueError):
                return False

        waited = wait_for(
            f"{name} to report healthy",
            check,
            timeout=timeout,
            diagnose=lambda: f"{name} log tail:\n{tail(self.log_path(name))}",
        )
        log(f"{name} healthy after {waited:.1f}s")

    def _wait_kubectl(self, what: str, args: tuple[str, ...], blame: str) -> None:
        waited = wait_for(
            what,
            lambda: self.kubectl_ok(*args),
            timeout=TIMEOUT,
            interval=0.5,
            diagnose=lambda: f"{blame} log tail:\n{tail(self.log_path(blame))}",
        )
        log(f"{what}: done after {waited:.1f}s")

    def _write_env(self) -> None:
        ports = self.ports()
        (self.directory / "cluster.env").write_text(
            f"KUBECONFIG={self.kubeconfig}\n"
            f"CANARYGATE_KUBECTL={self.kubectl}\n"
            f"CANARYGATE_KWOK_NODE={NODE_NAME}\n"
            f"CANARYGATE_APISERVER=https://127.0.0.1:{ports['kube-apiserver']}\n"
        )

    # -- component command lines ---------------------------------------------------------
    def _etcd_args(self, ports: dict[str, int]) -> list[str]:
        client = f"http://127.0.0.1:{ports['etcd']}"
        peer = f"http://127.0.0.1:{ports['etcd-peer']}"
        return [
            "etcd",
            "--name=canarygate",
            f"--data-dir={self.directory / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=canarygate={peer}",
            "--initial-cluster-state=new",
            "--logger=zap",
            "--log-level=warn",
            "--quota-backend-bytes=2147483648",
        ]

    def _apiserver_args(
        self, binaries: dict[str, Path], pki: Pki, ports: dict[str, int]
    ) -> list[str]:
        return [
            str(binaries["kube-apiserver"]),
            f"--etcd-servers=http://127.0.0.1:{ports['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports['kube-apiserver']}",
            f"--cert-dir={pki.directory}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={pki.token_file}",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # A loopback address may not be an Endpoints IP, so do not publish the
            # `kubernetes` Service endpoints (nothing in-cluster dials the API server here).
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--profiling=false",
            # Etcd 3.4 cannot serve streaming watch-lists (no progress notifications): with the
            # feature off, clients get a plain refusal and fall back to list + watch at once,
            # instead of retrying the stream (kwok's pods went Ready 30-45 s late that way).
            "--feature-gates=WatchList=false",
            "--v=1",
        ]

    def _controller_manager_args(
        self,
        binaries: dict[str, Path],
        pki: Pki,
        ports: dict[str, int],
        configs: dict[str, Path],
    ) -> list[str]:
        kubeconfig = configs["kube-controller-manager"]
        return [
            str(binaries["kube-controller-manager"]),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['kube-controller-manager']}",
            f"--cert-dir={pki.directory / 'kube-controller-manager'}",
            # Each controller acts as its own service account, with tokens it mints from
            # this key: the way real clusters run, and what makes RBAC mistakes visible.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]

    def _scheduler_args(
        self, binaries: dict[str, Path], ports: dict[str, int], configs: dict[str, Path]
    ) -> list[str]:
        kubeconfig = configs["kube-scheduler"]
        return [
            str(binaries["kube-scheduler"]),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['kube-scheduler']}",
            f"--cert-dir={self.pki.directory / 'kube-scheduler'}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]

    def _kwok_args(
        self, binaries: dict[str, Path], ports: dict[str, int], configs: dict[str, Path]
    ) -> list[str]:
        config = self.directory / "kwok.yaml"  # explicit, so ~/.kwok/kwok.yaml never leaks in
        config.write_text(
            "apiVersion: config.kwok.x-k8s.io/v1alpha1\nkind: KwokConfiguration\noptions: {}\n"
        )
        return [
            str(binaries["kwok"]),
            f"--config={config}",
            f"--kubeconfig={configs['kwok']}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--server-address=127.0.0.1:{ports['kwok']}",
            "--node-lease-duration-seconds=40",
        ]

    # -- objects -------------------------------------------------------------------------
    def register_node(self) -> None:
        """A Node that kwok manages (by annotation): it keeps the node Ready and moves pods
        bound to it through their lifecycle with its default stages. No taint, so the same
        test manifests schedule here and on kind."""
        self.run_kubectl("apply", "--filename=-", stdin=_NODE_MANIFEST.format(name=NODE_NAME))
        self._wait_kubectl(
            f"node {NODE_NAME} to become Ready (kwok)",
            ("wait", "--for=condition=Ready", f"node/{NODE_NAME}", "--timeout=5s"),
            "kwok",
        )

    def install_crds(self) -> None:
        """Gateway API (standard channel), Istio and ServiceMonitor CRDs, read from their Go
        modules."""
        apply_crds(lambda *args: self.run_kubectl(*args, timeout=120))
        self._wait_kubectl(
            "the Gateway API, Istio and ServiceMonitor CRDs to be established",
            ("wait", "--for=condition=Established", "--timeout=5s", *CRD_PROBES),
            "kube-apiserver",
        )


CRD_PROBES = (
    "crd/httproutes.gateway.networking.k8s.io",
    "crd/virtualservices.networking.istio.io",
    "crd/servicemonitors.monitoring.coreos.com",
)


def crd_sources() -> list[Path]:
    """Where the CRD YAMLs are: in the Go module cache, fetched at the pinned versions."""
    gateway = go_mod_download("sigs.k8s.io/gateway-api", VERSIONS.gateway_api)
    istio = go_mod_download("istio.io/api", VERSIONS.istio_api)
    # The chart's optional ServiceMonitor is checked against its real schema.
    operator = go_mod_download(
        "github.com/prometheus-operator/prometheus-operator", VERSIONS.prometheus_operator
    )
    return [
        Path(gateway["Dir"]) / "config" / "crd" / "standard",
        Path(istio["Dir"]) / "kubernetes" / "customresourcedefinitions.gen.yaml",
        Path(operator["Dir"])
        / "example"
        / "prometheus-operator-crd"
        / "monitoring.coreos.com_servicemonitors.yaml",
    ]


def apply_crds(kubectl: Callable[..., str]) -> None:
    for source in crd_sources():
        log(f"applying CRDs from {source}")
        # Server-side: the Istio CRDs are too large for client-side apply's annotation.
        kubectl("apply", "--server-side", "--force-conflicts", f"--filename={source}")


_NODE_MANIFEST = """\
apiVersion: v1
kind: Node
metadata:
  name: {name}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: {name}
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  capacity: {{cpu: "64", memory: 256Gi, pods: "250"}}
  allocatable: {{cpu: "64", memory: 256Gi, pods: "250"}}
"""


def require_binaries() -> dict[str, Path]:
    kube, kwok = kubernetes_bin_dir(), kwok_bin_dir()
    if not is_complete(kube, KUBERNETES_COMMANDS) or not is_complete(kwok, ("kwok",)):
        raise ClusterError(
            f"control-plane binaries are missing under {kube.parent}; run e2e/cluster/build"
        )
    binaries = {name: kube / name for name in KUBERNETES_COMMANDS}
    binaries["kwok"] = kwok / "kwok"
    return binaries


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _http_get(url: str, context: ssl.SSLContext | None = None, token: str = "") -> str | None:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            body: bytes = response.read()
            return body.decode(errors="replace").strip()
    except (urllib.error.URLError, OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _gone(pid: int) -> bool:
    return not _alive(pid)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the process group a component leads (start_new_session), else the process."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return


def _rmtree(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
