"""The stage of the operator's end-to-end scenarios: one Prometheus for the session, one
operator process per test module, and per test a namespace, a simulator registered as a
Prometheus target with its own `scenario` label, and helpers to read what the operator did.

- `stage` (module): `python -m canarygate run` (lab.stage.start_operator) watching a pool of
  namespaces made for the module's tests (one each); tests may kill, stop and restart it. A
  module's `OPERATOR_ARGS` (a sequence of flags, or a function of the pool's namespaces
  returning one) are added to its command line.
- `scenario` (function): one namespace from the pool; creates objects, starts simulators,
  waits on the gate's status, reads Events, the route, `kubectl describe` and the printer
  columns. Its finalizer deletes the gates (the operator removes its finalizer, or the
  finalizer removes it when the operator is gone), stops the simulators, unregisters them.
- `ApiWatch`: `kubectl get --watch` of one object, every version recorded as it arrives, with
  one-shot triggers run in the reader thread (how the restart tests SIGKILL the operator at a
  chosen moment of a step).

On a test failure the tails of the operator's, the simulators' and Prometheus's logs are added
to the report (see `LOG_SOURCES` and the hook in conftest.py).
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from lightkube import ApiError, codecs
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Event, Namespace
from lightkube.resources.networking_v1 import Ingress
from lightkube.types import PatchType

from canarygate.kube.refs import collection_path
from lab.stage import (
    Operator,
    Simulator,
    StageError,
    TargetedPrometheus,
    start_operator,
    start_simulator,
    start_targeted_prometheus,
)
from tests.e2e.helpers import Cluster, wait_until

REPO = Path(__file__).resolve().parents[2]
CRD = REPO / "crds" / "canarygate.io_canarygates.yaml"
FINALIZER = "canarygate.io/restore-traffic"
NOT_FOUND = 404

CanaryGate = create_namespaced_resource("canarygate.io", "v1alpha1", "CanaryGate", "canarygates")
HTTPRoute = create_namespaced_resource("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
VirtualService = create_namespaced_resource(
    "networking.istio.io", "v1", "VirtualService", "virtualservices"
)

# Titles and log readers of what a failing test should show; see conftest.py.
LOG_SOURCES = pytest.StashKey[list[tuple[str, Callable[[], str]]]]()

KINDS: dict[str, Any] = {
    "CanaryGate": CanaryGate,
    "HTTPRoute": HTTPRoute,
    "VirtualService": VirtualService,
    "Ingress": Ingress,
    "Deployment": Deployment,
    "Lease": Lease,
}


def kind_path(kind: str, namespace: str) -> str:
    """The API path of `kind`'s objects in `namespace`."""
    info = KINDS[kind]._api_info
    return collection_path(info.resource.group, info.resource.version, info.plural, namespace)


def as_dict(obj: Any) -> dict[str, Any]:
    body: dict[str, Any] = obj if isinstance(obj, dict) else obj.to_dict()
    return body


def metrics_value(text: str, name: str, /, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`, in Prometheus text
    (positional `name`, so that `name` can be a label too)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            total += float(value)
    return total


# -- watching the API ------------------------------------------------------------------------


@dataclass
class Seen:
    at: float  # time.monotonic() when the reader got it
    type: str  # ADDED, MODIFIED, DELETED
    body: dict[str, Any]


@dataclass
class Trigger:
    """One action to run on the first version of an object that meets a condition."""

    what: str
    when: Callable[[dict[str, Any]], bool]
    then: Callable[[dict[str, Any]], None]
    fired: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def wait(self, timeout: float) -> bool:
        """True once the action ran (re-raising what it raised); False after `timeout`."""
        if not self.fired.wait(timeout):
            return False
        if self.error is not None:
            raise AssertionError(f"the action on {self.what} failed: {self.error!r}")
        return True

    def matches(self, body: dict[str, Any]) -> bool:
        try:
            return not self.fired.is_set() and bool(self.when(body))
        except (KeyError, TypeError, ValueError):  # a version without the fields asked for
            return False

    def run(self, body: dict[str, Any]) -> None:
        try:
            self.then(body)
        except Exception as error:  # reported by wait(), in the test's thread
            self.error = error
        finally:
            self.fired.set()


class ApiWatch:
    """Every version of one object as the API server streams it.

    The object is listed first, here, and the watch (`kubectl get --raw ...?watch=true`)
    starts from that list's resourceVersion: the version current when the watch is made is
    the first one seen, and no later one is missed however late kubectl connects. (A
    `kubectl get --watch` started in the background lists when it gets round to it, and
    missed the first versions of a route the operator moved at once.)"""

    def __init__(self, cluster: Cluster, kind: str, namespace: str, name: str) -> None:
        self.kind, self.name = kind, name
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._triggers: list[Trigger] = []
        path = kind_path(kind, namespace)
        selector = f"fieldSelector={quote(f'metadata.name={name}', safe='')}"
        listed = json.loads(cluster.kubectl("get", f"--raw={path}?{selector}"))
        for item in listed.get("items") or []:
            self.seen.append(Seen(time.monotonic(), "ADDED", item))
        version = listed["metadata"]["resourceVersion"]
        self._process = subprocess.Popen(
            [
                cluster.kubectl_path, f"--kubeconfig={cluster.kubeconfig}", "get",
                f"--raw={path}?watch=true&{selector}&resourceVersion={version}"
                "&timeoutSeconds=3600",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        self._reader = threading.Thread(target=self._read, name=f"watch {kind}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:  # one event per line
            if not line.strip():
                continue
            event = json.loads(line)
            seen = Seen(time.monotonic(), str(event.get("type")), event.get("object") or {})
            if seen.type not in ("ADDED", "MODIFIED", "DELETED"):
                continue  # an ERROR (a Status) or a BOOKMARK is not a version of the object
            with self._lock:
                self.seen.append(seen)
                due = [t for t in self._triggers if t.matches(seen.body)]
            for trigger in due:
                trigger.run(seen.body)

    def when(
        self,
        what: str,
        condition: Callable[[dict[str, Any]], bool],
        then: Callable[[dict[str, Any]], None],
    ) -> Trigger:
        """Run `then(body)` once, in the reader thread, on the first version that meets
        `condition` (from now on)."""
        trigger = Trigger(what, condition, then)
        with self._lock:
            self._triggers.append(trigger)
        return trigger

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [s.body for s in self.seen if s.type != "DELETED"]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
        self._reader.join(timeout=10)


# -- the stage ---------------------------------------------------------------------------------


class Stage:
    """One operator process over a pool of namespaces, and the shared Prometheus; `extra` are
    more `canarygate run` flags for that operator."""

    def __init__(
        self,
        cluster: Cluster,
        prometheus: TargetedPrometheus,
        log_dir: Path,
        operator_args: Sequence[str] | Callable[[Sequence[str]], Sequence[str]] = (),
    ) -> None:
        self.cluster = cluster
        self.prometheus = prometheus
        self.log_dir = log_dir
        self.operator_args = operator_args
        self.namespaces: list[str] = []
        self._free: list[str] = []
        self._reserved: dict[str, str] = {}
        self.operator: Operator | None = None

    def add_namespaces(self, count: int) -> None:
        for _ in range(count):
            name = f"cg-op-{uuid.uuid4().hex[:8]}"
            self.cluster.client.create(Namespace(metadata=ObjectMeta(name=name)))
            self.namespaces.append(name)
            self._free.append(name)

    def reserve(self, test: str) -> str:
        """Set a namespace aside for the test named `test` (so a module fixture can prepare
        slow objects there early); `take_namespace(test)` hands it over."""
        if test not in self._reserved:
            self._reserved[test] = self.take_namespace()
        return self._reserved[test]

    def take_namespace(self, test: str | None = None) -> str:
        if test is not None and test in self._reserved:
            return self._reserved.pop(test)
        if not self._free:  # more tests than planned (e.g. reruns): widen the operator's scope
            self.add_namespaces(1)
            if self.operator is not None and self.operator.alive():
                self.stop_operator()
                self.start_operator()
        return self._free.pop(0)

    def start_operator(self) -> Operator:
        assert self.operator is None or not self.operator.alive(), "the operator is running"
        # Known as the stage's operator before it is ready: it acts within milliseconds of
        # starting, and a trigger may have to kill it while it is still starting up.
        self.operator = start_operator(
            kubeconfig=self.cluster.kubeconfig,
            prometheus=self.prometheus.url,
            log_dir=self.log_dir,
            namespaces=self.namespaces,
            extra=tuple(
                self.operator_args(self.namespaces)
                if callable(self.operator_args)
                else self.operator_args
            ),
            wait=False,
        )
        try:
            self.operator.wait_ready()
        except StageError:
            if self.operator.process.returncode != -signal.SIGKILL:
                raise  # it died on its own; a kill from a trigger is part of the test
        return self.operator

    def kill_operator(self) -> None:
        """SIGKILL, as when the node dies: nothing is flushed, no cleanup runs."""
        if self.operator is not None:
            self.operator.kill()

    def stop_operator(self) -> int | None:
        """SIGTERM and wait: the operator's own graceful shutdown."""
        return self.operator.stop() if self.operator is not None else None

    def operator_log(self, lines: int = 80) -> str:
        return self.operator.log_tail(lines) if self.operator is not None else "(not started)"

    def operator_metric(self, name: str, /, **labels: str) -> float:
        """A metric of the running operator, summed over the series matching `labels`
        (e.g. canarygate_decisions_total, mode="freeze")."""
        assert self.operator is not None
        return metrics_value(self.operator.metrics(), name, **labels)

    def close(self) -> None:
        if self.operator is not None:
            self.operator.stop()
        for name in self.namespaces:
            with contextlib.suppress(ApiError):
                self.cluster.client.delete(Namespace, name)


# -- one scenario -------------------------------------------------------------------------------


def _summary(body: Mapping[str, Any] | None) -> str:
    if body is None:
        return "the gate does not exist"
    status = body.get("status") or {}
    conditions = {
        c.get("type"): (c.get("status"), c.get("reason")) for c in status.get("conditions") or []
    }
    history = [
        (h.get("action"), h.get("weightFrom"), h.get("weightTo"))
        for h in status.get("history") or []
    ]
    return (
        f"phase={status.get('phase')} weight={status.get('weight')} action={status.get('action')} "
        f"health={status.get('health')} mode={status.get('mode')} "
        f"passes={status.get('consecutivePasses')} intent={status.get('intent')} "
        f"message={status.get('message')!r} conditions={conditions} history={history} "
        f"finalizers={(body.get('metadata') or {}).get('finalizers')}"
    )


class Scenario:
    """One test's namespace, simulators and objects."""

    def __init__(self, stage: Stage, namespace: str, label: str) -> None:
        self.stage = stage
        self.cluster = stage.cluster
        self.client = stage.cluster.client
        self.namespace = namespace
        self.label = label  # the `scenario` label of this test's simulator series
        self.simulators: list[Simulator] = []
        self._targets: list[tuple[TargetedPrometheus, str]] = []
        self.watches: list[ApiWatch] = []

    # -- objects ---------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        document = {**body, "metadata": {**body["metadata"], "namespace": self.namespace}}
        return as_dict(self.client.create(codecs.from_dict(document)))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            return as_dict(self.client.get(KINDS[kind], name, namespace=self.namespace))
        except ApiError as error:
            if error.status.code == NOT_FOUND:
                return None
            raise

    def must_get(self, kind: str, name: str) -> dict[str, Any]:
        body = self.get(kind, name)
        assert body is not None, f"{kind} {self.namespace}/{name} does not exist"
        return body

    def patch(
        self,
        kind: str,
        name: str,
        patch: Any,
        *,
        patch_type: PatchType = PatchType.MERGE,
        field_manager: str | None = None,
    ) -> dict[str, Any]:
        return as_dict(
            self.client.patch(
                KINDS[kind], name, patch, namespace=self.namespace, patch_type=patch_type,
                field_manager=field_manager,
            )
        )  # fmt: skip

    def delete(self, kind: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.client.delete(KINDS[kind], name, namespace=self.namespace)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        return self.cluster.kubectl(
            *args, f"--namespace={self.namespace}", stdin=stdin, check=check
        )

    # -- the gate --------------------------------------------------------------------------

    def gate(self, name: str) -> dict[str, Any] | None:
        return self.get("CanaryGate", name)

    def status(self, name: str) -> dict[str, Any]:
        body = self.gate(name)
        return dict((body or {}).get("status") or {})

    def wait_gate(
        self,
        name: str,
        what: str,
        condition: Callable[[dict[str, Any]], bool],
        *,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Poll the gate until `condition(status)`; fail naming `what` and the last status."""
        deadline = time.monotonic() + timeout
        while True:
            body = self.gate(name)
            status = dict((body or {}).get("status") or {})
            if body is not None and condition(status):
                return status
            if time.monotonic() >= deadline:
                pytest.fail(f"{what}: not within {timeout:.0f}s; the gate: {_summary(body)}")
            time.sleep(0.2)

    def wait_phase(self, name: str, phase: str, *, timeout: float = 60.0) -> dict[str, Any]:
        return self.wait_gate(
            name, f"gate {name} to reach phase {phase}",
            lambda s: s.get("phase") == phase, timeout=timeout,
        )  # fmt: skip

    def steady(
        self, what: str, condition: Callable[[], bool], *, until: Callable[[], bool], timeout: float
    ) -> None:
        """Assert `condition()` at every poll until `until()` is true (a witness that time
        went by, e.g. more evaluations counted), failing at the first poll that breaks it."""
        deadline = time.monotonic() + timeout
        while True:
            assert condition(), f"{what} no longer holds"
            if until():
                return
            if time.monotonic() >= deadline:
                pytest.fail(f"{what}: the witness did not come within {timeout:.0f}s")
            time.sleep(0.2)

    def events(self, name: str) -> list[dict[str, Any]]:
        found = self.client.list(
            Event, namespace=self.namespace, fields={"involvedObject.name": name}
        )
        events = [as_dict(e) for e in found]
        return sorted(events, key=lambda e: str(e.get("eventTime") or e.get("lastTimestamp")))

    def event_reasons(self, name: str) -> list[str]:
        return [str(e.get("reason")) for e in self.events(name)]

    def wait_event(self, name: str, reason: str, *, timeout: float = 30.0) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events(name) if e.get("reason") == reason), None)

        event: dict[str, Any] = wait_until(
            f"an Event {reason} about {name} (seen: {self.event_reasons(name)})",
            found,
            timeout=timeout,
        )
        return event

    def describe(self, name: str) -> str:
        return self.kubectl("describe", "canarygate", name)

    def printer_columns(self, name: str) -> dict[str, str]:
        """`kubectl get cg NAME -o wide` as {column: value} (cut where the header's columns
        start, as a value may be empty: the Waiting column of a gate that waits for nothing)."""
        header, row = self.kubectl("get", "cg", name, "--output=wide").splitlines()[:2]
        starts = [m.start() for m in re.finditer(r"\S+", header)]
        ends = [*starts[1:], None]
        return {
            header[start:end].strip(): row[start:end].strip()
            for start, end in zip(starts, ends, strict=True)
        }

    # -- processes -------------------------------------------------------------------------

    def simulator(
        self,
        provider: str,
        *,
        obj: str = "",
        stable: str = "",
        canary: str = "",
        prometheus: TargetedPrometheus | None = None,
    ) -> Simulator:
        """A simulator following this scenario's traffic object, scraped by the shared
        Prometheus (or `prometheus`) with the label scenario=<self.label>; returns once its
        series are in."""
        simulator = start_simulator(
            f"{self.label}-{len(self.simulators)}",
            kubeconfig=self.cluster.kubeconfig, namespace=self.namespace, provider=provider,
            obj=obj, stable=stable, canary=canary, log_dir=self.stage.log_dir, rate=50.0,
        )  # fmt: skip
        self.simulators.append(simulator)
        prometheus = prometheus or self.stage.prometheus
        prometheus.add_target(simulator.address, scenario=self.label)
        self._targets.append((prometheus, simulator.address))
        selector = f'http_requests_total{{scenario="{self.label}"}}'
        # Two scrapes at least, so that rate() over any window has an answer.
        wait_until(
            f"Prometheus to hold two scrapes of {selector}",
            lambda: prometheus.query(f"count_over_time({selector}[1m]) >= 2"),
            timeout=30,
            interval=0.25,
        )
        return simulator

    def watch(self, kind: str, name: str) -> ApiWatch:
        watch = ApiWatch(self.cluster, kind, self.namespace, name)
        self.watches.append(watch)
        return watch

    def versions(self, watch: ApiWatch, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every version the watch streamed, up to the object's version now at least: a
        status that says a move is done can be read before kubectl's stream delivers the
        move's own version."""
        current = self.get(watch.kind, watch.name)
        if current is None:
            return watch.bodies()
        version = current["metadata"]["resourceVersion"]
        wait_until(
            f"the watch of {watch.kind} {watch.name} to stream version {version}",
            lambda: any(b["metadata"].get("resourceVersion") == version for b in watch.bodies()),
            timeout=timeout,
        )
        return watch.bodies()

    # -- cleanup ---------------------------------------------------------------------------

    def close(self) -> None:
        for watch in self.watches:
            watch.stop()
        for gate in list(self.client.list(CanaryGate, namespace=self.namespace)):
            name = as_dict(gate)["metadata"]["name"]
            self.delete("CanaryGate", name)
            operator = self.stage.operator
            if operator is not None and operator.alive():
                with contextlib.suppress(pytest.fail.Exception):
                    wait_until(
                        f"the operator to release gate {name}",
                        lambda n=name: self.gate(n) is None,  # type: ignore[misc]
                        timeout=20,
                    )
            if self.gate(name) is not None:  # no operator to do it: leave no namespace stuck
                with contextlib.suppress(ApiError):
                    self.patch("CanaryGate", name, {"metadata": {"finalizers": None}})
        for prometheus, address in self._targets:
            prometheus.remove_target(address)
        for simulator in self.simulators:
            simulator.stop()


def managed_weights(route: Mapping[str, Any], stable: str, canary: str) -> list[tuple[Any, Any]]:
    """(stable weight, canary weight) of each HTTPRoute rule routing to both backends."""
    pairs = []
    for rule in route["spec"]["rules"]:
        refs = {ref["name"]: ref.get("weight") for ref in rule.get("backendRefs") or []}
        if stable in refs and canary in refs:
            pairs.append((refs[stable], refs[canary]))
    return pairs


def history_steps(status: Mapping[str, Any]) -> list[tuple[str, int, int]]:
    return [
        (str(h["action"]), int(h["weightFrom"]), int(h["weightTo"]))
        for h in status.get("history") or []
    ]


# -- fixtures ------------------------------------------------------------------------------------


def apply_crd(cluster: Cluster) -> None:
    """This checkout's CRD, established and served. The local control plane is shared: a
    session started from another checkout may apply its own CRD, whose schema prunes fields
    this one's tests write; modules whose fields are recent apply it again before each test."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", f"--filename={CRD}")
    cluster.wait_crds_established("canarygates.canarygate.io")
    wait_until(
        "CanaryGates to be served",
        lambda: cluster.kubectl(
            "get", "--raw=/apis/canarygate.io/v1alpha1/canarygates?limit=1", check=False
        ),
        timeout=30,
        interval=0.2,
    )


@pytest.fixture(scope="session")
def canarygate_crd(cluster: Cluster) -> None:
    apply_crd(cluster)


def _merged(theirs: Any, mine: Any) -> Any:
    """A schema accepting what both accept: properties and enums of both, the CEL rules of
    both, only the fields both require; mine wins elsewhere."""
    if not isinstance(theirs, dict) or not isinstance(mine, dict):
        return mine
    merged = {**theirs, **mine}
    if "properties" in theirs or "properties" in mine:
        properties = dict(theirs.get("properties") or {})
        for name, node in (mine.get("properties") or {}).items():
            properties[name] = _merged(properties[name], node) if name in properties else node
        merged["properties"] = properties
    for key in ("items", "additionalProperties"):
        if isinstance(theirs.get(key), dict) and isinstance(mine.get(key), dict):
            merged[key] = _merged(theirs[key], mine[key])
    if "enum" in theirs and "enum" in mine:
        merged["enum"] = [*theirs["enum"], *(v for v in mine["enum"] if v not in theirs["enum"])]
    rules = list(theirs.get("x-kubernetes-validations") or [])
    rules += [r for r in mine.get("x-kubernetes-validations") or [] if r not in rules]
    if rules:
        merged["x-kubernetes-validations"] = rules
    if "required" in theirs or "required" in mine:
        both = [r for r in mine.get("required") or [] if r in (theirs.get("required") or [])]
        merged["required"] = both
        if not both:
            merged.pop("required")
    return merged


def _covers(served: Any, mine: Any) -> bool:
    """Whether the served schema has every property and enum value of mine."""
    if not isinstance(mine, dict):
        return True
    if not isinstance(served, dict):
        return False
    if not set(mine.get("enum") or ()) <= set(served.get("enum") or mine.get("enum") or ()):
        return False
    for name, node in (mine.get("properties") or {}).items():
        if name not in (served.get("properties") or {}):
            return False
        if not _covers(served["properties"][name], node):
            return False
    return all(
        _covers(served.get(key), mine[key])
        for key in ("items", "additionalProperties")
        if isinstance(mine.get(key), dict)
    )


class CrdGuard:
    """Keeps this checkout's fields served while its tests run. Sessions from other
    checkouts sharing the local control plane apply their own CRD; when one lacks fields of
    ours, this applies the union of both schemas (theirs stay too). It watches the CRD, so it
    answers within about a second of such an apply (and checks every `period` seconds too)."""

    def __init__(self, cluster: Cluster, period: float = 5.0) -> None:
        self.cluster = cluster
        self.period = period
        self.reapplied = 0
        self._mine = yaml.safe_load(CRD.read_text())
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._watch: subprocess.Popen[str] | None = None
        self._threads = [
            threading.Thread(target=self._poll, name="crd guard poll", daemon=True),
            threading.Thread(target=self._follow, name="crd guard watch", daemon=True),
        ]

    @staticmethod
    def _schema(crd: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        return found

    def check(self, served: dict[str, Any] | None = None) -> bool:
        """Re-apply when our fields are missing from `served` (read now when not given);
        True if it did."""
        with self._lock:
            if served is None:
                served = json.loads(
                    self.cluster.kubectl("get", "crd/canarygates.canarygate.io", "--output=json")
                )
            if _covers(self._schema(served), self._schema(self._mine)):
                return False
            union = copy.deepcopy(self._mine)
            union["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = _merged(
                self._schema(served), self._schema(self._mine)
            )
            self.cluster.kubectl(
                "apply", "--server-side", "--force-conflicts", "--filename=-",
                stdin=yaml.safe_dump(union),
            )  # fmt: skip
            self.reapplied += 1
            return True

    def _poll(self) -> None:
        while not self._stop.wait(self.period):
            with contextlib.suppress(Exception, pytest.fail.Exception):
                self.check()

    def _follow(self) -> None:
        """Every version of the CRD as the API server streams it."""
        self._watch = subprocess.Popen(
            [
                self.cluster.kubectl_path, f"--kubeconfig={self.cluster.kubeconfig}", "get",
                "crd/canarygates.canarygate.io", "--watch", "--output-watch-events",
                "--output=json",
            ],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        assert self._watch.stdout is not None
        pending = ""
        for line in self._watch.stdout:
            if self._stop.is_set():
                return
            pending += line
            try:
                event = json.loads(pending)
            except json.JSONDecodeError:
                continue
            pending = ""
            served = event.get("object") or {}
            if served.get("spec"):
                with contextlib.suppress(Exception, pytest.fail.Exception):
                    self.check(served)

    def __enter__(self) -> CrdGuard:
        self.check()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._watch is not None and self._watch.poll() is None:
            self._watch.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._watch.wait(timeout=10)
        for thread in self._threads:
            thread.join(timeout=30)
        if self._watch is not None and self._watch.stdout is not None:
            self._watch.stdout.close()


@pytest.fixture(scope="module")
def own_crd(cluster: Cluster, canarygate_crd: None) -> Iterator[CrdGuard]:
    """This checkout's fields served for the whole module (see CrdGuard)."""
    with CrdGuard(cluster) as guard:
        yield guard


@pytest.fixture(scope="session")
def stage_prometheus() -> Iterator[TargetedPrometheus]:
    """One Prometheus for every operator scenario; each selects its series by label."""
    with start_targeted_prometheus() as prometheus:
        yield prometheus


@contextlib.contextmanager
def opened_stage(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    prometheus: TargetedPrometheus,
    log_dir: Path,
    extra: Sequence[str] | Callable[[Sequence[str]], Sequence[str]] = (),
) -> Iterator[Stage]:
    """A module's stage: one namespace per test of the module, the operator started with
    `extra` flags, everything stopped and deleted at the end."""
    tests = [i for i in request.session.items if getattr(i, "module", None) is request.module]
    stage = Stage(cluster, prometheus, log_dir, extra)
    try:
        stage.add_namespaces(max(1, len(tests)))
        stage.start_operator()
        yield stage
    finally:
        stage.close()


@pytest.fixture(scope="module")
def stage(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    canarygate_crd: None,
    stage_prometheus: TargetedPrometheus,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stage]:
    """The module's operator, watching one namespace per test of the module."""
    with opened_stage(
        request,
        cluster,
        stage_prometheus,
        tmp_path_factory.mktemp("stage"),
        getattr(request.module, "OPERATOR_ARGS", ()),
    ) as opened:
        yield opened


@pytest.fixture
def scenario(request: pytest.FixtureRequest, stage: Stage) -> Iterator[Scenario]:
    namespace = stage.take_namespace(request.node.name)
    label = f"{request.node.name[:40]}-{uuid.uuid4().hex[:6]}"
    current = Scenario(stage, namespace, re.sub(r"[^a-zA-Z0-9_-]", "-", label))
    sources = request.node.stash.setdefault(LOG_SOURCES, [])
    sources.append(("operator", stage.operator_log))
    sources.append(("Prometheus", lambda: stage.prometheus.running.log_tail(20)))
    sources.append(("simulators", lambda: "\n".join(s.log_tail(15) for s in current.simulators)))
    try:
        yield current
    finally:
        current.close()


def sequence_of(values: Sequence[Any]) -> list[Any]:
    """`values` without consecutive repeats: the distinct states an object went through."""
    out: list[Any] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out
