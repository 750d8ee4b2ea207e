"""PrometheusConfig: one canonical spelling per Prometheus, credentials that never print, and
unusable TLS or auth settings refused in one line before any query."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import certifi
import httpx
import pytest

from canarygate.core.errors import ConfigurationError, SpecError
from canarygate.metrics import PrometheusClient, PrometheusConfig
from canarygate.metrics.settings import DEFAULT_MAX_RESPONSE_BYTES


@pytest.mark.parametrize(
    "spelling",
    ["http://prom:9090", "http://prom:9090/", "HTTP://PROM:9090", " http://Prom:9090// "],
)
def test_every_spelling_of_one_prometheus_is_one_config(spelling: str) -> None:
    canonical = PrometheusConfig(address="http://prom:9090")
    config = PrometheusConfig(address=spelling)
    assert config == canonical
    assert hash(config) == hash(canonical)
    assert config.address == "http://prom:9090"
    assert len({config: 1, canonical: 2}) == 1


def test_the_default_port_is_dropped() -> None:
    assert PrometheusConfig(address="https://prom:443/").address == "https://prom"


@pytest.mark.parametrize(
    "address", ["", "prom:9090", "ftp://prom", "http://", "http://prom:99999", "http://a b"]
)
def test_an_unusable_address_is_a_one_line_spec_error(address: str) -> None:
    with pytest.raises(SpecError) as raised:
        PrometheusConfig(address=address)
    assert "\n" not in str(raised.value)


def test_url_credentials_become_basic_auth_and_never_print() -> None:
    config = PrometheusConfig(address="http://alice:s3cr%40t@prom:9090/")
    assert config.address == "http://prom:9090"
    assert config.basic_auth == ("alice", "s3cr@t")
    assert config == PrometheusConfig(address="http://prom:9090", basic_auth=("alice", "s3cr@t"))
    assert "s3cr" not in repr(config)
    assert "s3cr" not in str(config)


def test_url_credentials_replace_configured_ones() -> None:
    config = PrometheusConfig(
        address="http://alice:pw@prom", basic_auth=("bob", "other"), bearer_token="tok"
    )
    assert (config.basic_auth, config.bearer_token) == (("alice", "pw"), None)


def test_tokens_never_print() -> None:
    config = PrometheusConfig(address="http://prom", bearer_token="tok-XYZ")
    assert "tok-XYZ" not in repr(config)


def test_a_bad_address_does_not_print_its_password() -> None:
    with pytest.raises(SpecError) as raised:
        PrometheusConfig(address="ftp://alice:hunter2@prom")
    assert "hunter2" not in str(raised.value)


async def test_url_credentials_are_sent_as_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        data = {"resultType": "scalar", "result": [1, "1"]}
        return httpx.Response(200, json={"status": "success", "data": data})

    config = PrometheusConfig(address="http://alice:pw@prom:9090")
    async with PrometheusClient(config, transport=httpx.MockTransport(handler)) as prom:
        await prom.query("x", datetime(2026, 1, 15, tzinfo=UTC))
    (request,) = seen
    assert request.url.host == "prom"
    assert request.url.userinfo == b""
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()


UNCARRIABLE = {
    "newline": "abc\ndef",
    "carriage-return": "abc\r\nX-Evil: 1",
    "nul": "abc\x00",
    "non-ascii": "jeton-é",
    "binary": "\x89PNG\x1a",
    "space": "two words",
}


@pytest.mark.parametrize("token", UNCARRIABLE.values(), ids=UNCARRIABLE.keys())
def test_a_token_http_cannot_carry_is_a_configuration_error(token: str) -> None:
    with pytest.raises(ConfigurationError, match="bearer token") as raised:
        PrometheusConfig(address="http://prom", bearer_token=token)
    assert token not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_empty_token_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="empty"):
        PrometheusConfig(address="http://prom", bearer_token="")


@pytest.mark.parametrize(
    ("user", "password"),
    [("al\nice", "pw"), ("alice", "p\rw"), ("alice", "pw\x00"), ("alicé", "pw"),
     ("alice", "pä"), ("al:ice", "pw")],
)  # fmt: skip
def test_basic_auth_http_cannot_carry_is_a_configuration_error(user: str, password: str) -> None:
    with pytest.raises(ConfigurationError, match="basic-auth") as raised:
        PrometheusConfig(address="http://prom", basic_auth=(user, password))
    assert password not in str(raised.value)
    assert "\n" not in str(raised.value)


def test_uncarriable_url_credentials_are_a_spec_error() -> None:
    with pytest.raises(SpecError, match="password") as raised:
        PrometheusConfig(address="http://alice:p%0Aw@prom")
    assert "p\nw" not in str(raised.value)


def test_bearer_and_basic_auth_together_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="one of"):
        PrometheusConfig(address="http://prom", bearer_token="t", basic_auth=("u", "p"))


def test_printable_credentials_are_accepted() -> None:
    config = PrometheusConfig(address="http://prom", basic_auth=("alice", "p w:!~"))
    assert config.basic_auth == ("alice", "p w:!~")
    token = "eyJhbGciOi.J9-_~+/abc=="
    assert PrometheusConfig(address="http://prom", bearer_token=token).bearer_token == token


def test_a_valid_pem_ca_file_is_accepted() -> None:
    config = PrometheusConfig(address="https://prom", ca_file=certifi.where())
    PrometheusClient(config)  # builds its TLS context without error


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "not-pem", "broken-pem"])
def test_an_unusable_ca_file_is_a_configuration_error(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    if kind == "directory":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "not-pem":
        path.write_bytes(b"\x30\x82\x01\x0a binary DER, not PEM")
    elif kind == "broken-pem":
        path.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="ca_file") as raised:
        PrometheusConfig(address="https://prom", ca_file=str(path))
    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "settings",
    [{"timeout": 0}, {"timeout": float("nan")}, {"retries": -1}, {"max_concurrency": 0},
     {"max_response_bytes": 0}, {"backoff": -1}, {"deadline": 0}],
    ids=lambda s: next(iter(s)),
)  # fmt: skip
def test_nonsense_limits_are_configuration_errors(settings: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        PrometheusConfig(address="http://prom", **settings)  # type: ignore[arg-type]


def test_the_documented_defaults() -> None:
    config = PrometheusConfig(address="http://prom", timeout=3, retries=2)
    assert config.max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES == 8 * 1024 * 1024
    assert config.query_deadline == 9  # timeout x attempts, unless `deadline` says otherwise
    assert PrometheusConfig(address="http://prom", deadline=4).query_deadline == 4
