"""Reading Prometheus' instant-query answers: from HTTP status and body bytes to series, or to
the MetricsError that says what was wrong. Nothing else ever escapes from here. Range answers
(`metrics.range_answers`) go through the same status, document and sample checks.

A body is trusted for nothing: every item, label and sample is checked for the shape the
HTTP API documents (`[<unix time>, "<number as text>"]`), so an odd proxy or a broken
server makes a query "unavailable", never a traceback and never a value.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import NoReturn

from canarygate.core.errors import MetricsError, MetricsUnavailable, NoDataError, QueryError
from canarygate.metrics.errors import MalformedAnswer

# How Prometheus writes a sample value: Go's float formatting, plus the three specials.
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN")
# errorType values that mean "the query itself is wrong", as opposed to a struggling server.
_REFUSALS = frozenset({"bad_data", "execution"})
_MAX_DETAIL = 300


@dataclass(frozen=True)
class Series:
    """One sample of an instant result: its labels and its value (NaN and infinities kept)."""

    labels: dict[str, str]
    value: float


def series_from_answer(promql: str, status: int, reason: str, body: bytes) -> list[Series]:
    """The series of a complete HTTP answer, or the MetricsError its status or body means."""
    check_status(promql, status, reason, body)
    return parse_answer(promql, body)


def check_status(promql: str, status: int, reason: str, body: bytes) -> None:
    """Raise the MetricsError an HTTP status other than 200 means (instant or range query)."""
    if status in (400, 422):
        detail = error_detail(body, reason)
        raise QueryError(f"Prometheus rejected the query: {detail}", query=promql)
    if status in (401, 403):
        raise MetricsUnavailable(
            f"Prometheus refused our credentials (HTTP {status})", query=promql
        )
    if status != 200:
        detail = error_detail(body, reason)
        raise MetricsUnavailable(
            f"unexpected HTTP {status} from Prometheus: {detail}", query=promql
        )


def parse_answer(promql: str, body: bytes) -> list[Series]:
    """Every series of a 200 answer's body (a scalar is one series without labels)."""
    data = answer_data(promql, body)
    kind, result = data.get("resultType"), data.get("result")
    if kind == "vector":
        return _vector(promql, result)
    if kind == "scalar":
        return [Series({}, _sample(promql, result))]
    if kind in ("matrix", "string"):
        raise QueryError(
            f"query returned a {kind} result; an instant vector or scalar is needed",
            query=promql,
        )
    raise _malformed(promql, f"unknown resultType {_shown(kind)}")


def answer_data(promql: str, body: bytes) -> dict[str, object]:
    """The `data` object of a 200 answer whose status is success; a refusal (`status:
    error`) or anything malformed raises the MetricsError it means."""
    document = _decoded(promql, body)
    if not isinstance(document, dict):
        raise _malformed(promql, "the answer is not a JSON object")
    status = document.get("status")
    if status == "error":
        raise _refusal(promql, document)
    if status != "success":
        raise _malformed(promql, f"status is {_shown(status)}, not success or error")
    data = document.get("data")
    if not isinstance(data, dict):
        raise _malformed(promql, "the answer has no data object")
    return data


def single_value(promql: str, series: list[Series]) -> float:
    """The one finite value a gate query must produce; anything else is a MetricsError."""
    if not series:
        raise NoDataError("query returned no series", query=promql)
    if len(series) > 1:
        raise QueryError(
            f"query returned {len(series)} series; aggregate it to one value, e.g. sum(...)",
            query=promql,
        )
    value = series[0].value
    if math.isnan(value):
        raise NoDataError("query returned NaN (e.g. 0/0: no traffic)", query=promql)
    if math.isinf(value):
        raise NoDataError("query returned an infinity (e.g. division by zero)", query=promql)
    return value


def error_detail(body: bytes, fallback: str) -> str:
    """What an error answer says, on one short line: `errorType: error` when it is
    Prometheus' JSON, else the start of the text, else `fallback` (the HTTP reason)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        text = body[: _MAX_DETAIL * 4].decode("utf-8", "replace")
    else:
        text = ""
        if isinstance(document, dict) and document.get("error"):
            text = f"{document.get('errorType') or 'error'}: {document['error']}"
    return one_line(text) or fallback


def one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    """`text` with every run of whitespace or control characters made one space, shortened."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _decoded(promql: str, body: bytes) -> object:
    try:
        return json.loads(body, parse_constant=_not_json)
    except (ValueError, RecursionError):
        # RecursionError: deeply nested arrays; ValueError covers bad UTF-8, NaN literals
        # and integers too long to convert.
        raise MalformedAnswer(
            "Prometheus answered with something that is not JSON", query=promql
        ) from None


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def _refusal(promql: str, document: dict[str, object]) -> MetricsError:
    """A `status: error` answer (whatever its HTTP status): a refusal or a server problem."""
    kind = document.get("errorType")
    detail = one_line(f"{kind or 'error'}: {document.get('error') or 'no detail given'}")
    if kind in _REFUSALS:
        return QueryError(f"Prometheus rejected the query: {detail}", query=promql)
    return MetricsUnavailable(f"Prometheus could not run the query: {detail}", query=promql)


def _vector(promql: str, result: object) -> list[Series]:
    if not isinstance(result, list):
        raise _malformed(promql, "a vector result that is not a list")
    return [_series(promql, item) for item in result]


def _series(promql: str, item: object) -> Series:
    if not isinstance(item, dict):
        raise _malformed(promql, f"a vector item that is not an object: {_shown(item)}")
    labels = item.get("metric", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise _malformed(promql, f"labels that are not a map of strings: {_shown(labels)}")
    if "value" not in item and "histogram" in item:
        raise QueryError(
            "query returned a native histogram sample; a gate needs a number "
            "(e.g. histogram_count(...) or histogram_quantile(...))",
            query=promql,
        )
    return Series(dict(labels), _sample(promql, item.get("value")))


def _sample(promql: str, pair: object) -> float:
    return timed_sample(promql, pair)[1]


def timed_sample(promql: str, pair: object) -> tuple[float, float]:
    """`[<unix time>, "<number as text>"]` as (time, value), or MalformedAnswer."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise _malformed(promql, f"a sample that is not a [time, value] pair: {_shown(pair)}")
    time, text = pair
    # Floats from JSON can be infinite (1e999); integers are exact, however long.
    if isinstance(time, bool) or not isinstance(time, int | float):
        raise _malformed(promql, f"a sample time that is not a number: {_shown(time)}")
    if isinstance(time, float) and not math.isfinite(time):
        raise _malformed(promql, f"a sample time that is not finite: {_shown(time)}")
    if not isinstance(text, str) or not _NUMBER.fullmatch(text):
        raise _malformed(promql, f"a sample value that is not a number as text: {_shown(text)}")
    return float(time), float(text)


def _malformed(promql: str, what: str) -> MalformedAnswer:
    return MalformedAnswer(f"malformed answer from Prometheus: {what}", query=promql)


def _shown(value: object) -> str:
    return one_line(repr(value), limit=60)


# The range reader (metrics.range_answers) reports problems in the same words.
malformed = _malformed
shown = _shown
