"""Metrics: the Prometheus client and the per-tick query batch (seam: `PrometheusClient`).

settings.py    PrometheusConfig: canonical address, credentials, TLS, limits
prometheus.py  PrometheusClient: attempts, retries, deadlines, stats
pacing.py      backoff, Retry-After, the deadline of a whole query
breaker.py     the circuit breaker, counting failures in sequence
bodies.py      reading an answer within the size cap
answers.py     from an answer to series, or to the MetricsError it means
segmenting.py  from a segmented query's series to one value per segment
errors.py      the package's refinements of MetricsUnavailable
packing.py     several queries in one request, safely; missing observations
batching.py    QueryBatch: one tick's queries, deduplicated and packed
"""

from canarygate.metrics.batching import QueryBatch, missing_from
from canarygate.metrics.prometheus import ClientStats, PrometheusClient, Series
from canarygate.metrics.settings import PrometheusConfig

__all__ = [
    "ClientStats",
    "PrometheusClient",
    "PrometheusConfig",
    "QueryBatch",
    "Series",
    "missing_from",
]
