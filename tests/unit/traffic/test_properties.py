"""Properties of every backend over generated objects: whatever the route looks like,
a write changes only canarygate's fields, lands exactly on the weight, is not repeated,
verifies, and a restore from the snapshot gives back the original object."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from canarygate.traffic import (
    MANAGED_LABEL,
    CheckOutcome,
    GatewayApiBackend,
    IstioBackend,
    NginxBackend,
    ReplicasBackend,
    TargetInvalid,
    TrafficBackend,
)
from canarygate.traffic.nginx import CANARY, CANARY_WEIGHT, CANARY_WEIGHT_TOTAL

from .builders import NS, deployment, http_route, ingress, objects_for, virtual_service

Body = dict[str, Any]
weights = st.integers(0, 100)
raw_weights = st.one_of(st.none(), st.integers(0, 1000))


def with_weight(entry: Body, weight: int | None) -> Body:
    return entry if weight is None else entry | {"weight": weight}


def without_label(body: Body) -> Body:
    body = copy.deepcopy(body)
    labels = body["metadata"].get("labels", {})
    labels.pop(MANAGED_LABEL, None)
    if labels == {}:
        body["metadata"].pop("labels", None)
    return body


def maybe_bare(draw: st.DrawFn, body: Body) -> Body:
    """Sometimes drop labels and annotations: canarygate's own label must then vanish with
    the map it created, as the API server never returns an empty map."""
    for key in ("labels", "annotations"):
        if draw(st.booleans()):
            body["metadata"].pop(key, None)
    return body


def carries(pairs: list[tuple[int, int]], weight: int) -> bool:
    """The independent statement of "already at the weight" for stable:canary pairs."""
    return all(s + c > 0 and 100 * c == weight * (s + c) for s, c in pairs)


def assert_contract(
    backend: TrafficBackend,
    original: tuple[Body, ...],
    weight: int,
    *,
    already: bool,
    untouched: Callable[[Body], Body],
) -> tuple[Body, ...]:
    """The whole write contract; returns the objects after the write."""
    before = copy.deepcopy(original)
    objects = objects_for(backend, *original)
    snapshot = backend.snapshot(objects)
    updates = backend.apply_weight(objects, weight)
    assert original == before, "inputs are never modified"
    if already:
        assert updates == ()
    else:
        assert updates, "an object off the weight must be written"
    written = {update.ref: update.body for update in updates}
    live = tuple(
        written.get(ref, body) for ref, body in zip(backend.targets(), original, strict=True)
    )
    for old, new in zip(original, live, strict=True):
        assert untouched(new) == untouched(old), "only canarygate's fields may change"
        if new is not old:
            assert new["metadata"]["labels"][MANAGED_LABEL] == "true"
            assert new["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"]
    live_objects = objects_for(backend, *live)
    assert backend.apply_weight(live_objects, weight) == (), "a second write is a bug"
    restored = {update.ref: update.body for update in backend.restore(live_objects, snapshot)}
    back = tuple(restored.get(ref, body) for ref, body in zip(backend.targets(), live, strict=True))
    assert back == original
    return live


# -- Gateway API -----------------------------------------------------------------------

GATEWAY = GatewayApiBackend(NS, "checkout", "checkout-stable", "checkout-canary")
OTHERS = st.sampled_from(["legacy", "search", "checkout-stable-old", "canary"])


def ref(name: str, weight: int | None) -> Body:
    return with_weight({"name": name, "port": 8080}, weight)


@st.composite
def routes(draw: st.DrawFn) -> Body:
    rules = []
    for _ in range(draw(st.integers(0, 3))):
        refs = draw(st.lists(st.builds(ref, OTHERS, raw_weights), max_size=2))
        shape = draw(st.sampled_from(["managed", "stable-only", "other"]))
        if shape != "other":
            refs.append(ref("checkout-stable", draw(raw_weights)))
        if shape == "managed":
            refs.append(ref("checkout-canary", draw(raw_weights)))
        rules.append(draw(st.permutations(refs)))
    managed = [ref("checkout-stable", draw(raw_weights)), ref("checkout-canary", draw(raw_weights))]
    rules.insert(draw(st.integers(0, len(rules))), managed)
    return maybe_bare(draw, http_route(*rules))


def gateway_pairs(route: Body) -> list[tuple[int, int]]:
    pairs = []
    for rule in route["spec"]["rules"]:
        found = {r["name"]: r.get("weight", 1) for r in rule["backendRefs"]}
        if {"checkout-stable", "checkout-canary"} <= set(found):
            pairs.append((found["checkout-stable"], found["checkout-canary"]))
    return pairs


def gateway_untouched(route: Body) -> Body:
    route = without_label(route)
    for rule in route["spec"]["rules"]:
        names = {r["name"] for r in rule["backendRefs"]}
        if {"checkout-stable", "checkout-canary"} <= names:
            for r in rule["backendRefs"]:
                if r["name"] in names & {"checkout-stable", "checkout-canary"}:
                    r.pop("weight", None)
    return route


@given(routes(), weights)
def test_gateway_api(route: Body, weight: int) -> None:
    already = carries(gateway_pairs(route), weight)
    (live,) = assert_contract(
        GATEWAY, (route,), weight, already=already, untouched=gateway_untouched
    )
    objects = objects_for(GATEWAY, live)
    assert GATEWAY.read_weight(objects) == weight
    assert GATEWAY.check_weight(objects, weight).outcome is CheckOutcome.VERIFIED
    assert carries(gateway_pairs(live), weight)


# -- Istio -------------------------------------------------------------------------------

ISTIO = IstioBackend(NS, "checkout", "checkout-stable", "checkout-canary")
STABLE_HOSTS = [
    "checkout-stable",
    "checkout-stable.shop.svc",
    "checkout-stable.shop.svc.cluster.local",
]
CANARY_HOSTS = ["checkout-canary", "checkout-canary.shop.svc.cluster.local"]
OTHER_HOSTS = st.sampled_from(
    ["search", "checkout-canary.other.svc.cluster.local", "api.example.com"]
)


def dest(host: str, weight: int | None) -> Body:
    return with_weight({"destination": {"host": host}}, weight)


@st.composite
def virtual_services(draw: st.DrawFn) -> Body:
    http = []
    for _ in range(draw(st.integers(0, 3))):
        route = draw(st.lists(st.builds(dest, OTHER_HOSTS, raw_weights), max_size=2))
        if draw(st.booleans()):
            route.append(dest(draw(st.sampled_from(STABLE_HOSTS)), draw(raw_weights)))
            route.append(dest(draw(st.sampled_from(CANARY_HOSTS)), draw(raw_weights)))
        http.append(draw(st.permutations(route)))
    managed = [
        dest(draw(st.sampled_from(STABLE_HOSTS)), draw(raw_weights)),
        dest(draw(st.sampled_from(CANARY_HOSTS)), draw(raw_weights)),
    ]
    http.insert(draw(st.integers(0, len(http))), managed)
    return maybe_bare(draw, virtual_service(*http))


def istio_role(entry: Body) -> str | None:
    host = entry["destination"]["host"]
    return "stable" if host in STABLE_HOSTS else "canary" if host in CANARY_HOSTS else None


def istio_pairs(vs: Body) -> list[tuple[int, int]]:
    pairs = []
    for http in vs["spec"]["http"]:
        found = {istio_role(e): e.get("weight", 0) for e in http["route"]}
        if "stable" in found and "canary" in found:
            pairs.append((found["stable"], found["canary"]))
    return pairs


def istio_untouched(vs: Body) -> Body:
    vs = without_label(vs)
    for http in vs["spec"]["http"]:
        for entry in http["route"]:
            if istio_role(entry) is not None:
                entry.pop("weight", None)
    return vs


@given(virtual_services(), weights)
def test_istio(vs: Body, weight: int) -> None:
    already = carries(istio_pairs(vs), weight)
    (live,) = assert_contract(ISTIO, (vs,), weight, already=already, untouched=istio_untouched)
    objects = objects_for(ISTIO, live)
    assert ISTIO.read_weight(objects) == weight
    assert ISTIO.check_weight(objects, weight).outcome is CheckOutcome.VERIFIED


# -- NGINX -------------------------------------------------------------------------------

NGINX = NginxBackend(NS, "checkout-canary")


@st.composite
def canary_ingresses(draw: st.DrawFn) -> tuple[Body, int]:
    annotations = {
        "nginx.ingress.kubernetes.io/canary-by-header": draw(st.sampled_from([None, "x-canary"])),
        CANARY: draw(st.sampled_from([None, "true", "false", "True"])),
        CANARY_WEIGHT: draw(st.one_of(st.none(), st.integers(0, 1000).map(str))),
        CANARY_WEIGHT_TOTAL: draw(st.sampled_from([None, "100", "1000", "10", "7", "3"])),
    }
    total = int(annotations[CANARY_WEIGHT_TOTAL] or 100)
    kept = {key: value for key, value in annotations.items() if value is not None}
    # An Ingress without annotations has no annotations map at all.
    body = ingress(kept or None)
    if draw(st.booleans()):
        body["metadata"].pop("labels", None)
    return body, total


def nginx_untouched(body: Body) -> Body:
    body = without_label(body)
    annotations = body["metadata"].get("annotations", {})
    for key in (CANARY, CANARY_WEIGHT):
        annotations.pop(key, None)
    if annotations == {}:
        body["metadata"].pop("annotations", None)
    return body


@given(canary_ingresses(), weights)
def test_nginx(case: tuple[Body, int], weight: int) -> None:
    body, total = case
    annotations = body["metadata"].get("annotations", {})
    if weight in (0, 100):
        desired = weight * total // 100
    else:  # nearest, half up, but never all or nothing before 0 or 100
        desired = min(max(math.floor(weight * total / 100 + 0.5), 1), total - 1)
    already = str(annotations.get(CANARY, "")).lower() == "true" and annotations.get(
        CANARY_WEIGHT
    ) == str(desired)
    (live,) = assert_contract(NGINX, (body,), weight, already=already, untouched=nginx_untouched)
    objects = objects_for(NGINX, live)
    share = NGINX.read_weight(objects)
    assert abs(share - weight) <= 100 / total, "within one step of the total"
    assert (share == 0) == (weight == 0)
    assert (share == 100) == (weight == 100)
    assert NGINX.check_weight(objects, weight).outcome is CheckOutcome.VERIFIED


# -- Replicas ----------------------------------------------------------------------------


@given(
    st.integers(1, 30),
    st.one_of(st.none(), st.integers(0, 30)),
    st.one_of(st.none(), st.integers(0, 30)),
    weights,
)
def test_replicas(total: int, stable: int | None, canary: int | None, weight: int) -> None:
    backend = ReplicasBackend(NS, "web-stable", "web-canary", total_replicas=total)
    original = (deployment("web-stable", stable), deployment("web-canary", canary))
    for body in original:
        body["metadata"].pop("labels", None)
    if total == 1 and 0 < weight < 100:
        objects = objects_for(backend, *original)
        try:
            backend.apply_weight(objects, weight)
        except TargetInvalid:
            return
        raise AssertionError("one replica cannot be split")

    def untouched(body: Body) -> Body:
        body = without_label(body)
        body["spec"].pop("replicas", None)
        return body

    counts = [1 if n is None else n for n in (stable, canary)]
    live = assert_contract(
        backend,
        original,
        weight,
        already=counts == list(backend_split(total, weight)),
        untouched=untouched,
    )
    new_stable, new_canary = (body["spec"].get("replicas", 1) for body in live)
    assert new_stable + new_canary == total
    assert (new_canary >= 1) == (weight > 0)
    assert (new_stable >= 1) == (weight < 100)
    assert (new_stable, new_canary) == backend_split(total, weight)
    rolled_out = tuple(rollout(body) for body in live)
    objects = objects_for(backend, *rolled_out)
    assert backend.check_weight(objects, weight).outcome is CheckOutcome.VERIFIED


def backend_split(total: int, weight: int) -> tuple[int, int]:
    """The split stated independently of the backend's arithmetic."""
    if weight in (0, 100):
        return (total, 0) if weight == 0 else (0, total)
    canary = min(max(math.ceil(total * weight / 100), 1), total - 1)
    return total - canary, canary


def rollout(body: Body) -> Body:
    """What the Deployment controller and kubelets make of a Deployment, eventually."""
    body = copy.deepcopy(body)
    count = body["spec"].get("replicas", 1)
    body["status"] = {
        "observedGeneration": body["metadata"]["generation"],
        "replicas": count,
        "updatedReplicas": count,
        "readyReplicas": count,
    }
    return body
