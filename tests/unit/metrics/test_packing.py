"""Packing several queries into one request, and splitting the answer back, without letting a
query change what another part measures."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from canarygate.core import Missing, MissingKind, QueryKey, Role
from canarygate.core.queries import PlannedQuery
from canarygate.metrics import PrometheusClient, PrometheusConfig, QueryBatch, Series
from canarygate.metrics.packing import is_self_contained, new_part_label, pack, unpack

AT = datetime(2026, 1, 15, 12, tzinfo=UTC)
LABEL = "canarygate_part_0123456789abcdef"
Handler = Callable[[httpx.Request], httpx.Response]


SELF_CONTAINED = [
    'sum(rate(http_requests_total{journey="checkout",code!~"5.."}[5m]))',
    "sum(x) # a comment ) ( with brackets",
    'sum(x{a=")"})',
    "sum(x{a='\\')'})",
    'sum(x{a="\\")"})',
    "sum(x{a=`\\`})",  # backticks take no escapes: this backslash is the whole string
    "histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))",
    "rate(x[5m:1m] offset 1h)",
    "sum(x)\n# a comment on its own line\n/ sum(y)",
]

NOT_SELF_CONTAINED = [
    "",
    "   ",
    "# only a comment",
    "x) or vector(1",
    "sum(x",
    "sum(x))",
    "sum(x]",
    'x{a="1"',
    'x{a="unterminated}',
    "x{a='unterminated}",
    "x{a=`unterminated}",
    'x{a="escaped quote\\"}',
    "a, b",
    'vector(1), "canarygate_part", "1", "", "") or label_replace(vector(2)',
]


@pytest.mark.parametrize("query", SELF_CONTAINED)
def test_self_contained_queries_may_be_packed(query: str) -> None:
    assert is_self_contained(query)


@pytest.mark.parametrize("query", NOT_SELF_CONTAINED)
def test_queries_that_could_escape_their_wrapper_are_sent_alone(query: str) -> None:
    assert not is_self_contained(query)


@given(st.text(alphabet="ab(){}[]\"'`#\\,\n x", max_size=30))
def test_an_accepted_query_stays_inside_its_wrapper(query: str) -> None:
    if is_self_contained(query):
        # Wrapped, it is still whole, and the text after it is outside any string or comment.
        assert is_self_contained(pack([query, query], LABEL))
        assert is_self_contained(f"f(\n{query}\n)")


def test_each_part_sits_on_its_own_lines_so_a_comment_ends_with_its_part() -> None:
    packed = pack(["sum(a) # total", "sum(b)"], LABEL)
    assert packed == (
        f'label_replace(\nsum(a) # total\n, "{LABEL}", "0", "", "")\n'
        f'or label_replace(\nsum(b)\n, "{LABEL}", "1", "", "")'
    )


def test_part_labels_are_fresh_valid_label_names() -> None:
    labels = {new_part_label() for _ in range(100)}
    assert len(labels) == 100
    assert all(re.fullmatch(r"canarygate_part_[0-9a-f]{16}", label) for label in labels)


def test_unpack_keeps_each_parts_own_verdict() -> None:
    series = [
        Series({LABEL: "0"}, 5.0),
        Series({LABEL: "2", "pod": "a"}, 1.0),
        Series({LABEL: "2", "pod": "b"}, 2.0),
        Series({LABEL: "3"}, float("nan")),
    ]
    samples = unpack(["q0", "q1", "q2", "q3"], LABEL, series)
    assert samples[0] == 5.0
    assert isinstance(samples[1], Missing)
    assert samples[1].kind is MissingKind.NO_DATA
    assert isinstance(samples[2], Missing)
    assert samples[2].kind is MissingKind.QUERY_ERROR
    assert "2 series" in samples[2].detail
    assert isinstance(samples[3], Missing)
    assert samples[3].kind is MissingKind.NO_DATA


def test_series_with_a_tag_we_did_not_generate_are_dropped() -> None:
    series = [
        Series({LABEL: "0"}, 5.0),
        Series({"canarygate_part": "1"}, 42.0),  # the old, guessable tag
        Series({"canarygate_part_ffffffffffffffff": "1"}, 42.0),  # someone else's tag
        Series({LABEL: "7"}, 42.0),  # a part that does not exist
        Series({}, 42.0),  # untagged
    ]
    assert unpack(["q0"], LABEL, series) == [5.0]
    (missing,) = unpack(["q1"], LABEL, series[1:])
    assert isinstance(missing, Missing)
    assert missing.kind is MissingKind.NO_DATA


def query_of(request: httpx.Request) -> str:
    return parse_qs(request.content.decode())["query"][0]


def one_value(value: str) -> httpx.Response:
    result = [{"metric": {}, "value": [0, value]}]
    return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector",
                                                                   "result": result}})  # fmt: skip


REFUSED = httpx.Response(
    400, json={"status": "error", "errorType": "bad_data", "error": "parse error"}
)


class FakePrometheus:
    """Answers each known query as Prometheus would alone; a packed request is answered part
    by part with the tag it asks for, plus whatever `extra` series an attacker slips in."""

    def __init__(self, alone: dict[str, str | None], extra: list[dict[str, object]]) -> None:
        self.alone = alone
        self.extra = extra
        self.sent: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = query_of(request)
        self.sent.append(query)
        parts = re.findall(r'label_replace\(\n(.*?)\n, "(\w+)", "(\d+)", "", ""\)', query, re.S)
        if not parts:
            value = self.alone.get(query)
            return REFUSED if value is None else one_value(value)
        result = [dict(item) for item in self.extra]
        for text, label, index in parts:
            value = self.alone.get(text)
            if value is None:
                return REFUSED
            result.append({"metric": {label: index}, "value": [0, value]})
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return httpx.Response(200, json=body)


async def observe(
    prometheus: FakePrometheus, queries: list[str], *, packing: bool = True
) -> list[object]:
    keys = [QueryKey("g", role) for role in (Role.CANARY, Role.BASELINE, Role.SAMPLES)]
    config = PrometheusConfig(address="http://prom", backoff=0)
    transport = httpx.MockTransport(prometheus)
    async with PrometheusClient(config, transport=transport) as client:
        batch = QueryBatch(client, AT, packing=packing)
        planned = [PlannedQuery(key, q) for key, q in zip(keys, queries, strict=False)]
        observed = await batch.observe(planned)
    return [observed[key] for key in keys[: len(queries)]]


ATTACK = 'vector(0), "canarygate_part", "1", "", "") or label_replace(vector(0.5)'


async def test_the_unbalanced_query_attack_behaves_as_if_sent_alone() -> None:
    queries = [ATTACK, "sum(baseline)", "sum(samples)"]
    alone = {"sum(baseline)": "0.01", "sum(samples)": "900"}
    packed_answers = await observe(prometheus := FakePrometheus(alone, []), queries)
    single_answers = await observe(FakePrometheus(alone, []), queries, packing=False)
    assert packed_answers == single_answers
    assert packed_answers[1:] == [0.01, 900.0]
    assert isinstance(packed_answers[0], Missing)
    assert packed_answers[0].kind is MissingKind.QUERY_ERROR
    # The attack travelled alone, exactly as written; the others were packed together.
    assert ATTACK in prometheus.sent
    assert len(prometheus.sent) == 2


async def test_the_forged_label_attack_behaves_as_if_sent_alone() -> None:
    alone = {"sum(canary)": "0.5", "sum(baseline)": "0.01", "sum(samples)": "900"}
    forged = [
        {"metric": {"canarygate_part": "1"}, "value": [0, "0.99"]},
        {"metric": {"canarygate_part_0000000000000000": "1"}, "value": [0, "0.99"]},
    ]
    queries = ["sum(canary)", "sum(baseline)", "sum(samples)"]
    prometheus = FakePrometheus(alone, forged)
    packed_answers = await observe(prometheus, queries)
    assert packed_answers == await observe(FakePrometheus(alone, []), queries, packing=False)
    assert packed_answers == [0.5, 0.01, 900.0]
    assert len(prometheus.sent) == 1


async def test_a_comment_in_a_part_does_not_swallow_the_others() -> None:
    queries = ["sum(canary) # the canary's errors", "sum(baseline)"]
    alone = {queries[0]: "0.5", queries[1]: "0.01"}
    prometheus = FakePrometheus(alone, [])
    assert await observe(prometheus, queries) == [0.5, 0.01]
    assert len(prometheus.sent) == 1


async def test_a_refused_packed_query_falls_back_to_one_request_per_part() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = query_of(request)
        sent.append(query)
        if "\nor " in query:
            error = {"status": "error", "errorType": "bad_data", "error": "expected vector"}
            return httpx.Response(400, json=error)
        if query == "scalar(x)":
            return httpx.Response(
                200,
                json={"status": "success", "data": {"resultType": "scalar", "result": [0, "3"]}},
            )
        return REFUSED

    config = PrometheusConfig(address="http://prom", backoff=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as client:
        batch = QueryBatch(client, AT)
        keys = [QueryKey("g", Role.CANARY), QueryKey("g", Role.BASELINE)]
        observed = await batch.observe(
            [PlannedQuery(keys[0], "scalar(x)"), PlannedQuery(keys[1], "sum(y)")]
        )
    assert observed[keys[0]] == 3.0
    assert isinstance(observed[keys[1]], Missing)
    assert observed[keys[1]].kind is MissingKind.QUERY_ERROR
    assert len(sent) == 3
    assert batch.distinct == 3


async def test_an_unreachable_packed_query_marks_every_part_unreachable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    config = PrometheusConfig(address="http://prom", retries=0)
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as client:
        keys = [QueryKey("j", Role.GOOD), QueryKey("j", Role.TOTAL)]
        observed = await QueryBatch(client, AT).observe(
            [PlannedQuery(keys[0], "a"), PlannedQuery(keys[1], "b")]
        )
    assert all(
        isinstance(v, Missing) and v.kind is MissingKind.UNREACHABLE for v in observed.values()
    )
