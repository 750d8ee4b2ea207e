"""Reading Prometheus' range-query answers (`/api/v1/query_range`): a matrix of series, each
a list of `[<unix time>, "<number as text>"]` points, checked as strictly as instant answers
(`metrics.answers`): anything malformed makes the request "unavailable", never a value.

Points are keyed by their time in whole milliseconds, the resolution of Prometheus' own
timestamps, so that a point can be matched exactly to the evaluation instant it answers.
"""

from __future__ import annotations

from dataclasses import dataclass

from canarygate.core.errors import QueryError
from canarygate.metrics.answers import answer_data, check_status, malformed, shown, timed_sample


@dataclass(frozen=True)
class RangeSeries:
    """One series of a range result: its labels and its points, by time in milliseconds."""

    labels: dict[str, str]
    points: dict[int, float]


def range_series_from_answer(
    promql: str, status: int, reason: str, body: bytes
) -> list[RangeSeries]:
    """The series of a complete range answer, or the MetricsError its status or body means."""
    check_status(promql, status, reason, body)
    data = answer_data(promql, body)
    kind, result = data.get("resultType"), data.get("result")
    if kind != "matrix":
        raise malformed(promql, f"a range answer whose resultType is {shown(kind)}, not matrix")
    if not isinstance(result, list):
        raise malformed(promql, "a matrix result that is not a list")
    return [_series(promql, item) for item in result]


def _series(promql: str, item: object) -> RangeSeries:
    if not isinstance(item, dict):
        raise malformed(promql, f"a matrix item that is not an object: {shown(item)}")
    labels = item.get("metric", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise malformed(promql, f"labels that are not a map of strings: {shown(labels)}")
    if item.get("histograms"):
        raise QueryError(
            "query returned native histogram samples; a gate needs a number "
            "(e.g. histogram_count(...) or histogram_quantile(...))",
            query=promql,
        )
    values = item.get("values", [])
    if not isinstance(values, list):
        raise malformed(promql, f"matrix values that are not a list: {shown(values)}")
    points: dict[int, float] = {}
    for pair in values:
        time, value = timed_sample(promql, pair)
        points[round(time * 1000)] = value
    return RangeSeries(dict(labels), points)
