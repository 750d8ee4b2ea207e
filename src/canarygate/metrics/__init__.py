"""Metrics: the Prometheus client and the per-tick query batch (seam: `PrometheusClient`)."""

from canarygate.metrics.batching import QueryBatch, missing_from
from canarygate.metrics.prometheus import (
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
