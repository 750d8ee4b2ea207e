"""Reading a segmented query's answer (`sum by (region) (...)`, see `segmentBy`): one value per
segment, told apart by the segmentation's labels, or the MetricsError that says what is wrong.

An unsegmented query still needs exactly one series (`answers.single_value`).
"""

from __future__ import annotations

from canarygate.core.errors import NoDataError, QueryError
from canarygate.core.observations import Segment, Segmented, describe_segment
from canarygate.core.specs import Segmentation
from canarygate.metrics.answers import Series, single_value


def segmented_values(promql: str, series: list[Series], segmentation: Segmentation) -> Segmented:
    """One value per segment (a label a series lacks reads ""). No series is no data; two
    series of one segment, or more segments than the cap, is a query to fix, never read in
    part. NaN and infinities are kept: the core judges each segment's value."""
    if not series:
        raise NoDataError("query returned no series", query=promql)
    labels = segmentation.labels
    values: dict[Segment, float] = {}
    for item in series:
        segment = tuple(item.labels.get(label, "") for label in labels)
        if segment in values:
            raise QueryError(
                f"query returned several series for {describe_segment(labels, segment)}; "
                f"aggregate it by exactly the segmentBy labels, e.g. sum by "
                f"({', '.join(labels)}) (...)",
                query=promql,
            )
        values[segment] = item.value
    if len(values) > segmentation.max_segments:
        raise QueryError(
            f"query returned {len(values)} segments by {', '.join(labels)}, more than "
            f"maxSegments {segmentation.max_segments}; segment by fewer or coarser labels, "
            "or raise maxSegments",
            query=promql,
        )
    return Segmented(labels, values)


def value_of(
    promql: str, series: list[Series], segmentation: Segmentation | None
) -> float | Segmented:
    """What a planned query measures: one value, or one per segment when it is segmented."""
    if segmentation is None:
        return single_value(promql, series)
    return segmented_values(promql, series, segmentation)
