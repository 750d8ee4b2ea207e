"""Metrics providers. Prometheus is the one provider; its seam is `PrometheusClient.query`."""

from canarygate.providers.batching import QueryBatch, missing_from
from canarygate.providers.prometheus import (
    ClientStats,
    PrometheusClient,
    PrometheusConfig,
    Series,
)

__all__ = [
    "ClientStats",
    "PrometheusClient",
    "PrometheusConfig",
    "QueryBatch",
    "Series",
    "missing_from",
]
