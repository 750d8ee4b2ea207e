"""Packing: the queries of one subject (a journey's good/total over every window, or a
guardrail's canary/baseline/samples) travel to Prometheus as one request, segmented or not,

    label_replace(
    <q0>
    , "canarygate_part_<random>", "0", "", "")
    or label_replace(
    <q1>
    , "canarygate_part_<random>", "1", "", "")

and the answer is split back by that label (a segmented part keeps its segment labels, so its
series are told apart after the split as they would be alone). Per request, Prometheus and
the HTTP client each spend about a millisecond before any data is read, so this cuts the cost
of a tick several times (see bench/).

Packing must never change what a part measures, so:
- only a query that `is_self_contained` proves cannot reach outside its wrapper is packed
  (otherwise `x) or vector(1` would be accepted packed while Prometheus refuses it alone);
- each part sits on its own lines, so a `# comment` in it ends before the wrapper goes on;
- the tag label is drawn at random per request, so no spec can name it in advance, and any
  series without one of the tags we generated is dropped.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Iterable, Sequence

from canarygate.core.errors import MetricsError, MetricsUnavailable, NoDataError, QueryError
from canarygate.core.observations import Missing, MissingKind, Observation
from canarygate.core.specs import Segmentation
from canarygate.metrics.answers import Series
from canarygate.metrics.segmenting import value_of

PART_LABEL_PREFIX = "canarygate_part_"

# The tokens that decide where a query ends, in PromQL's lexical rules: complete strings
# ("..." and '...' with backslash escapes and no line break; `...` raw), comments to the end
# of the line, brackets, commas. A lone quote is the start of a string that never ends.
_TOKENS = re.compile(
    r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`|#[^\n]*|[()\[\]{},]|["'`]"""
)
_OPENING = {")": "(", "]": "[", "}": "{"}


@functools.lru_cache(maxsize=16384)  # the same queries are checked every tick
def is_self_contained(query: str) -> bool:
    """True if `query` is one whole expression by PromQL's lexical rules: every string ends,
    brackets balance without ever closing one that is not open, and no comma stands at the
    top level. Only such a query ends exactly where its wrapper resumes."""
    open_brackets: list[str] = []
    said_something = False
    position = 0
    for token in _TOKENS.finditer(query):
        said_something = said_something or bool(query[position : token.start()].strip())
        position = token.end()
        text = token.group()
        if text in "\"'`":
            return False  # a string that never ends
        if text.startswith("#"):
            continue
        said_something = True
        if text in "([{":
            open_brackets.append(text)
        elif text in _OPENING:
            if not open_brackets or open_brackets.pop() != _OPENING[text]:
                return False
        elif text == "," and not open_brackets:
            return False
    said_something = said_something or bool(query[position:].strip())
    return said_something and not open_brackets


def new_part_label() -> str:
    """A tag label name no spec can know in advance."""
    return PART_LABEL_PREFIX + secrets.token_hex(8)


def pack(queries: Sequence[str], label: str) -> str:
    """One request for `queries`, each tagged with `label` = its index. Every query must be
    self-contained; each sits on lines of its own."""
    return "\nor ".join(
        f'label_replace(\n{query}\n, "{label}", "{index}", "", "")'
        for index, query in enumerate(queries)
    )


def unpack(
    queries: Sequence[str],
    label: str,
    series: Iterable[Series],
    segmentations: Sequence[Segmentation | None] | None = None,
) -> list[Observation]:
    """Split a packed answer back into one observation (or missing) per part: one value, or
    one per segment for a part with a segmentation. Series without one of the tags `pack`
    gave are dropped: they cannot be a part's."""
    parts: dict[str, list[Series]] = {str(i): [] for i in range(len(queries))}
    for item in series:
        part = item.labels.get(label)
        if part in parts:
            labels = {name: value for name, value in item.labels.items() if name != label}
            parts[part].append(Series(labels, item.value))
    shapes = segmentations or [None] * len(queries)
    found: list[Observation] = []
    for index, (query, segmentation) in enumerate(zip(queries, shapes, strict=True)):
        try:
            found.append(value_of(query, parts[str(index)], segmentation))
        except MetricsError as error:
            found.append(missing_from(error))
    return found


def missing_from(error: MetricsError) -> Missing:
    """The observation a failed query becomes: silence of the right kind, never a value."""
    if isinstance(error, NoDataError):
        return Missing(MissingKind.NO_DATA, error.message)
    if isinstance(error, QueryError):
        return Missing(MissingKind.QUERY_ERROR, error.message)
    if isinstance(error, MetricsUnavailable):
        return Missing(MissingKind.UNREACHABLE, error.message)
    return Missing(MissingKind.QUERY_ERROR, str(error))
