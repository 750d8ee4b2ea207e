"""core.addresses.parse_address, as the metrics client relies on it: one canonical spelling
per Prometheus, credentials split off, and messages that never show a password."""

from __future__ import annotations

import pytest

from canarygate.core.addresses import Address, parse_address
from canarygate.core.errors import SpecError


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("http://prom:9090", "http://prom:9090"),
        ("HTTP://PROM:9090/", "http://prom:9090"),
        ("http://prom:80", "http://prom"),
        ("https://prom:443//", "https://prom"),
        ("https://Prom.Example.com/prometheus/", "https://prom.example.com/prometheus"),
        ("http://[0:0::1]:9090/", "http://[::1]:9090"),
        ("  http://10.0.0.1:9090  ", "http://10.0.0.1:9090"),
    ],
)
def test_one_canonical_spelling(text: str, canonical: str) -> None:
    assert parse_address(text) == Address(canonical)


def test_credentials_are_split_off_and_decoded() -> None:
    assert parse_address("http://alice:p%40ss@prom:9090/") == Address(
        "http://prom:9090", "alice", "p@ss"
    )
    assert parse_address("http://alice@prom") == Address("http://prom", "alice", None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "prom:9090",
        "ftp://prom",
        "http://",
        "http://prom:0",
        "http://prom:65536",
        "http://prom:port",
        "http://prom?x=1",
        "http://prom#top",
        "http://pr om",
        "http://-prom",
        "http://" + "a" * 3000,
    ],
)
def test_unusable_addresses_are_spec_errors_naming_the_field(text: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_address(text, field="--prometheus")
    assert raised.value.field == "--prometheus"
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "text", ["ftp://alice:hunter2@prom", "http://alice:hunter2@", "http://alice:hunter2@pr om"]
)
def test_a_refused_address_never_shows_its_password(text: str) -> None:
    with pytest.raises(SpecError) as raised:
        parse_address(text)
    assert "hunter2" not in str(raised.value)
