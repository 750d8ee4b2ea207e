"""Every API failure becomes one KubeError subclass naming the verb and the object;
nothing from lightkube or httpx2 escapes."""

from __future__ import annotations

import httpx2
import pytest

from canarygate.core.errors import CanarygateError
from canarygate.kube import Conflict, Forbidden, KubeError, KubeUnavailable, NotFound
from tests.unit.kube.support import make_api, status


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (409, Conflict),
        (404, NotFound),
        (401, Forbidden),
        (403, Forbidden),
        (429, KubeUnavailable),
        (500, KubeUnavailable),
        (503, KubeUnavailable),
        (422, KubeError),
        (400, KubeError),
    ],
)
async def test_status_codes_map_to_the_error_tree(code: int, kind: type[KubeError]) -> None:
    api = make_api(lambda request: status(code, f"server says {code}"))
    with pytest.raises(kind) as raised:
        await api.get_gate("shop", "checkout")
    error = raised.value
    assert type(error) is kind
    assert isinstance(error, CanarygateError)
    assert error.status == code
    assert error.verb == "get"
    assert error.target == "canarygates.canarygate.io shop/checkout"
    assert str(error) == f"get canarygates.canarygate.io shop/checkout: {code} server says {code}"
    assert api.stats.errors[kind.__name__] == 1
    assert api.stats.requests["get"] == 1


async def test_a_conflict_on_a_status_write_names_the_subresource_and_is_counted() -> None:
    api = make_api(lambda request: status(409, "the object has been modified", "Conflict"))
    with pytest.raises(Conflict, match=r"^patch canarygates.canarygate.io/status shop/a: 409 "):
        await api.patch_gate_status("shop", "a", {"phase": "Progressing"}, resource_version="7")
    assert api.stats.conflicts == 1


async def test_a_non_json_error_body_is_quoted_shortly() -> None:
    api = make_api(lambda request: httpx2.Response(502, text="<html>bad\n gateway</html>"))
    with pytest.raises(KubeUnavailable, match=r"502 <html>bad gateway</html>$"):
        await api.get_gate("shop", "a")


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (httpx2.ConnectError("connection refused"), "connection failed: connection refused"),
        (httpx2.ReadTimeout("read timed out"), "timed out: read timed out"),
        (httpx2.RemoteProtocolError("peer closed"), "connection failed: peer closed"),
    ],
)
async def test_transport_failures_are_kube_unavailable(failure: Exception, words: str) -> None:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise failure

    api = make_api(handler)
    with pytest.raises(KubeUnavailable) as raised:
        await api.get_gate("shop", "a")
    assert str(raised.value) == f"get canarygates.canarygate.io shop/a: {words}"
    assert raised.value.status is None
    assert raised.value.__cause__ is None  # no httpx2 exception rides along
    assert raised.value.__suppress_context__


async def test_a_success_that_is_not_a_json_object_is_unavailable() -> None:
    api = make_api(lambda request: httpx2.Response(200, text="[1, 2]"))
    with pytest.raises(KubeUnavailable, match="not a JSON object"):
        await api.get_gate("shop", "a")
