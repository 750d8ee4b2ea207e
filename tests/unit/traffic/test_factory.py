"""backend_for reads the CRD's own provider blocks: the keys it reads are the CRD's, and a
block it cannot use is a SpecError naming the field."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from canarygate.core.errors import SpecError
from canarygate.traffic import (
    JUDGE_ONLY,
    PROVIDERS,
    ExternalBackend,
    GatewayApiBackend,
    IstioBackend,
    NginxBackend,
    ReplicasBackend,
    backend_for,
)

CRD_PATH = Path(__file__).resolve().parents[3] / "crds" / "canarygate.io_canarygates.yaml"


def traffic_schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    schema: dict[str, Any] = spec["properties"]["canary"]["properties"]["traffic"]
    return schema


TRAFFIC = traffic_schema()
# Keys the CRD requires but a backend does not need: ingress-nginx weighs by the canary
# Ingress alone, so the stable Ingress is never read.
UNREAD = {"nginx": {"ingress"}}
# Providers with a routing block (a judge-only gate has no routing for canarygate to read).
ROUTED = [p for p in PROVIDERS if p not in JUDGE_ONLY]


class Recording(Mapping[str, Any]):
    """A settings block that remembers which keys the factory looked at."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return self.data.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


def full_block(provider: str) -> dict[str, Any]:
    """Every property of the provider's CRD block, with a usable value."""
    block: dict[str, Any] = {}
    for key, schema in TRAFFIC["properties"][provider]["properties"].items():
        block[key] = 4 if schema["type"] == "integer" else f"{key.lower()}-x"
    return block


def test_the_factory_knows_exactly_the_crds_providers() -> None:
    assert set(PROVIDERS) == set(TRAFFIC["properties"]["provider"]["enum"])


@pytest.mark.parametrize("provider", ROUTED)
def test_the_factory_reads_the_crds_keys(provider: str) -> None:
    settings = Recording(full_block(provider))
    backend_for(provider, "shop", settings)
    properties = set(TRAFFIC["properties"][provider]["properties"])
    assert settings.read == properties - UNREAD.get(provider, set())


@pytest.mark.parametrize("provider", ROUTED)
def test_a_missing_required_key_names_the_field(provider: str) -> None:
    for key in TRAFFIC["properties"][provider]["required"]:
        if key in UNREAD.get(provider, set()):
            continue
        block = full_block(provider)
        del block[key]
        with pytest.raises(SpecError) as error:
            backend_for(provider, "shop", block)
        assert error.value.field == f"spec.canary.traffic.{provider}.{key}"


def test_the_judge_only_provider_has_no_block_and_reads_nothing() -> None:
    assert set(JUDGE_ONLY) == {"external"}
    assert "external" not in TRAFFIC["properties"]
    settings = Recording({})
    assert backend_for("external", "shop", settings) == ExternalBackend("shop")
    assert settings.read == set()


def test_each_provider_builds_its_backend() -> None:
    assert backend_for(
        "gatewayAPI",
        "shop",
        {"httpRoute": "checkout", "stableBackend": "s", "canaryBackend": "c"},
    ) == GatewayApiBackend("shop", "checkout", "s", "c")
    assert backend_for(
        "istio",
        "shop",
        {"virtualService": "vs", "stableHost": "web", "canaryHost": "web",
         "stableSubset": "v1", "canarySubset": "v2", "route": ""},
    ) == IstioBackend("shop", "vs", "web", "web", None, "v1", "v2")  # fmt: skip
    assert backend_for(
        "nginx", "shop", {"ingress": "web", "canaryIngress": "web-canary"}
    ) == NginxBackend("shop", "web-canary")
    assert backend_for(
        "replicas",
        "shop",
        {"stableDeployment": "a", "canaryDeployment": "b", "totalReplicas": 5},
    ) == ReplicasBackend("shop", "a", "b", 5)


@pytest.mark.parametrize(
    ("provider", "namespace", "settings", "field"),
    [
        ("smi", "shop", {}, "spec.canary.traffic.provider"),
        ("nginx", "", {"canaryIngress": "c"}, "metadata.namespace"),
        ("nginx", "shop", ["canaryIngress"], "spec.canary.traffic.nginx"),
        ("gatewayAPI", "shop", {"httpRoute": "r", "stableBackend": "s", "canaryBackend": 3},
         "spec.canary.traffic.gatewayAPI.canaryBackend"),
        ("replicas", "shop", {"stableDeployment": "a", "canaryDeployment": "b",
                              "totalReplicas": "4"}, "spec.canary.traffic.replicas.totalReplicas"),
        ("replicas", "shop", {"stableDeployment": "a", "canaryDeployment": "b",
                              "totalReplicas": True}, "spec.canary.traffic.replicas.totalReplicas"),
        ("istio", "shop", {"virtualService": "vs", "stableHost": "web", "canaryHost": "web"},
         "spec.canary.traffic.istio"),
    ],
)  # fmt: skip
def test_unusable_settings_are_spec_errors(
    provider: str, namespace: str, settings: Any, field: str
) -> None:
    with pytest.raises(SpecError) as error:
        backend_for(provider, namespace, settings)
    assert error.value.field == field
