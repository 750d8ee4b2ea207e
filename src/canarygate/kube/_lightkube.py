"""The one place that reaches inside lightkube: the configured HTTP client of an AsyncClient.

canarygate sends raw JSON (10,000 CanaryGates decoded into lightkube models would cost
minutes and hundreds of MB), but it wants lightkube's kubeconfig handling: TLS, client
certificates, bearer tokens (re-read on rotation), exec plugins. lightkube builds an
`httpx2.AsyncClient` with all of that and keeps it at `AsyncClient._client._client`.

Checked against lightkube 1.0.1 (the range `>=1.0.1,<1.1` is pinned in pyproject.toml).
A release that moves the attribute fails here, once, at connect time, with a clear message.
"""

from __future__ import annotations

import httpx2
from lightkube import AsyncClient

from canarygate.core.errors import KubeUnavailable


def http_client_of(client: AsyncClient) -> httpx2.AsyncClient:
    """The httpx2 client lightkube configured from the kubeconfig (base URL, TLS, auth)."""
    generic = getattr(client, "_client", None)
    http = getattr(generic, "_client", None)
    if not isinstance(http, httpx2.AsyncClient):
        raise KubeUnavailable(
            "this lightkube version keeps no httpx2 client at AsyncClient._client._client; "
            "canarygate.kube was checked against lightkube >=1.0.1,<1.1"
        )
    return http
