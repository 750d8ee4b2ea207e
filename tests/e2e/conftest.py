"""Session fixtures for the end-to-end tests: one cluster, one simulator, one Prometheus.

The cluster is whatever $KUBECONFIG points at (kind in public CI, a developer's cluster), and
is then left alone; without $KUBECONFIG the local control plane is started with
e2e/cluster/up and stopped with e2e/cluster/down at the end of the session, unless it was
already running and healthy before the session (then it is only reused).

kubectl: $CANARYGATE_KUBECTL, else the one recorded in cluster.env beside the kubeconfig
(our own build), else `kubectl` on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import httpx
import pytest
from lightkube import Client, KubeConfig
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from lab.kubectl import find_kubectl
from lab.prometheus import RunningPrometheus, free_port, start_prometheus
from tests.e2e.helpers import Cluster, SimulatedTraffic, query, wait_until

# The operator scenarios' fixtures (tests/e2e/test_operator_*.py).
from tests.e2e.operator_fixtures import (  # noqa: F401 (fixtures, found by name)
    LOG_SOURCES,
    canarygate_crd,
    own_crd,
    scenario,
    stage,
    stage_prometheus,
)

REPO = Path(__file__).resolve().parents[2]
CLUSTER_SCRIPTS = REPO / "e2e" / "cluster"
UP_TIMEOUT = 900  # generous: a first `up` on a loaded 2-core machine


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test's report gets the log tails its fixtures registered (LOG_SOURCES)."""
    report = yield
    if report.failed:
        for title, read in item.stash.get(LOG_SOURCES, []):
            report.sections.append((f"{title} log (tail)", read()))
    return report


def _kubectl_for(kubeconfig: Path) -> str:
    found = find_kubectl(kubeconfig)
    if found is None:
        pytest.fail("no kubectl: set CANARYGATE_KUBECTL or put kubectl on PATH")
    return found


def _script(name: str, timeout: float) -> subprocess.CompletedProcess[str]:
    # The scripts log progress to stderr; let it through so a slow start is visible.
    return subprocess.run(
        [sys.executable, str(CLUSTER_SCRIPTS / name)],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    owned = False
    if given := os.environ.get("KUBECONFIG"):
        kubeconfig = Path(given.split(os.pathsep)[0])
    else:
        already_running = _script("status", 60).returncode == 0
        up = _script("up", UP_TIMEOUT)
        if up.returncode != 0:
            pytest.fail("e2e/cluster/up failed (its log is above)")
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        owned = not already_running
    client = Client(config=KubeConfig.from_file(kubeconfig), field_manager="canarygate-e2e")
    try:
        yield Cluster(kubeconfig, _kubectl_for(kubeconfig), client)
    finally:
        client.close()
        if owned:
            down = _script("down", 120)
            assert down.returncode == 0, "e2e/cluster/down failed (its log is above)"


@pytest.fixture(scope="session")
def namespace(cluster: Cluster) -> Iterator[str]:
    """A namespace of this session's own, deleted at the end (without waiting)."""
    name = f"canarygate-e2e-{uuid.uuid4().hex[:6]}"
    cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))
    wait_until(
        f"service account default in {name}",
        lambda: (
            cluster.kubectl("get", "serviceaccount", "default", f"--namespace={name}", check=False)
            or None
        ),
        timeout=60,
    )
    yield name
    cluster.client.delete(Namespace, name)


@pytest.fixture(scope="session")
def simulator(
    cluster: Cluster, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimulatedTraffic]:
    """`python -m lab.simulator` following the HTTPRoute `journeys` (which the tests
    create; until then the simulator keeps all traffic on stable and says its source is down)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("simulator") / "simulator.log"
    args = [
        sys.executable,
        "-m",
        "lab.simulator",
        "--provider=gatewayAPI",
        f"--namespace={namespace}",
        "--object=journeys",
        "--stable=journeys-stable",
        "--canary=journeys-canary",
        f"--kubeconfig={cluster.kubeconfig}",
        "--rate=50",
        "--tick=0.1",
        "--poll-interval=0.25",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    url = f"http://127.0.0.1:{port}"
    traffic = SimulatedTraffic(
        url, namespace, "journeys", "journeys-stable", "journeys-canary", process
    )

    def healthy() -> bool:
        if process.poll() is not None:
            pytest.fail(f"simulator exited:\n{log_path.read_text(errors='replace')}")
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200

    try:
        wait_until("the simulator to serve /healthz", healthy, timeout=30, interval=0.2)
        yield traffic
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: simulator
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture(scope="session")
def prometheus(simulator: SimulatedTraffic) -> Iterator[RunningPrometheus]:
    """Debian's Prometheus scraping the simulator every second."""
    target = simulator.url.removeprefix("http://")
    with start_prometheus(config_yaml=SCRAPE_CONFIG.replace("{target}", target)) as running:
        wait_until(
            "Prometheus to scrape the simulator",
            lambda: query(running, 'up{job="simulator"} == 1'),
            timeout=60,
        )
        yield running
