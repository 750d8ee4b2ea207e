"""The verdict API over HTTP (operator.verdict_serving + authenticating + limiting): tokens,
who may read which gate, rate limits, bounded bodies, clear 4xx, Flagger's contract, metrics.
The API server's reviews are a fake here (tests/e2e asks the real one)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import generate_latest

from canarygate.kube import Identity, KubeUnavailable, NotFound, TokenVerdict
from canarygate.operator.authenticating import Authenticator, AuthSettings
from canarygate.operator.observing import Observer
from canarygate.operator.receivers import SecretRef
from canarygate.operator.records import GateKey
from canarygate.operator.verdict_serving import MAX_BODY, VerdictApi, VerdictApiSettings
from canarygate.operator.verdicts import Verdicts

from .harness import NS, gate_body
from .test_verdicts import Clock, Recorder, external, recorder, service, started  # noqa: F401

SA = "system:serviceaccount:argo-rollouts:argo-rollouts"
SA_TOKEN = "eyJhbGciOiJSUzI1NiJ9.sa-token"
SECRET_TOKEN = "flagger-secret-token-0123456789"


class FakeReviews:
    """The API server as the authenticator asks it."""

    def __init__(self) -> None:
        self.token_reviews: list[str] = []
        self.access_reviews: list[tuple[str, str, str]] = []
        self.allowed: set[tuple[str, str, str]] = {(SA, NS, "checkout"), (SA, NS, "other")}
        self.down = False
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {
            (NS, "verdict-tokens"): {
                "data": {"flagger": base64.b64encode(SECRET_TOKEN.encode()).decode()}
            },
            ("elsewhere", "verdict-tokens"): {
                "data": {"intruder": base64.b64encode(b"elsewhere-token-0123456789").decode()}
            },
        }

    async def review_token(self, token: str, audiences: Sequence[str] = ()) -> TokenVerdict:
        if self.down:
            raise KubeUnavailable("connection refused", verb="create", target="tokenreviews")
        self.token_reviews.append(token)
        if token == SA_TOKEN:
            return TokenVerdict(Identity(SA, uid="u1", groups=("system:serviceaccounts",)))
        return TokenVerdict(None, "invalid bearer token")

    async def review_access(
        self, identity: Identity, *, verb: str, group: str, resource: str, namespace: str,
        name: str,
    ) -> bool:  # fmt: skip
        assert (verb, group, resource) == ("get", "canarygate.io", "canarygates")
        self.access_reviews.append((identity.username, namespace, name))
        return (identity.username, namespace, name) in self.allowed

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        try:
            return self.secrets[(namespace, name)]
        except KeyError:
            raise NotFound(f"secret {namespace}/{name}") from None


class Api:
    def __init__(
        self,
        client: TestClient[Any, Any],
        reviews: FakeReviews,
        observer: Observer,
        verdicts: Verdicts,
        clock: Clock,
    ) -> None:
        self.client = client
        self.reviews = reviews
        self.observer = observer
        self.verdicts = verdicts
        self.clock = clock

    async def get(self, path: str, token: str | None = SA_TOKEN, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.client.get(path, headers=headers, params=params)

    def metrics(self) -> str:
        return generate_latest(self.observer.registry).decode()


@pytest.fixture
async def api(recorder: Recorder) -> AsyncIterator[Api]:  # noqa: F811
    verdicts, clock = service(
        external("checkout"),
        started(gate_body(), weight=10) | {"metadata": {"name": "driven", "namespace": NS}},
    )
    reviews = FakeReviews()
    settings = VerdictApiSettings(
        address="127.0.0.1:0",
        auth=AuthSettings(
            token_secrets=(
                SecretRef(NS, "verdict-tokens"),
                SecretRef("elsewhere", "verdict-tokens"),
            )
        ),
        rate=5,
        burst=8,
        failed_rate=0.001,
        failed_burst=3,
    )
    authenticator = Authenticator(reviews, settings.auth)
    await authenticator.start()
    observer = verdicts.observer

    async def canary_weight(namespace: str, name: str) -> int | None:
        return 30 if (namespace, name) == (NS, "checkout") else None

    # The rate limits' clock stands still: a bucket refills only when a test says so, never
    # because the machine is slow.
    server = VerdictApi(
        verdicts, authenticator, observer, settings, canary_weight=canary_weight,
        clock=lambda: 1000.0,
    )  # fmt: skip
    async with TestClient(TestServer(server.app())) as client:
        yield Api(client, reviews, observer, verdicts, clock)
    await authenticator.close()
    await verdicts.close()


async def test_a_service_account_reads_a_gate_it_may_get(api: Api) -> None:
    response = await api.get(f"/v1/verdicts/{NS}/checkout", weight="10")
    assert response.status == 200
    body = await response.json()
    assert body["verdict"] == "pass"
    assert body["gate"] == f"{NS}/checkout"
    assert body["weight"] == {"current": 10, "next": 50}
    assert {"health", "risk", "mode", "action", "reasons", "journeys", "guardrails"} <= set(body)
    assert body["journeys"][0]["burnRates"]
    assert "budgetRemaining" in body["journeys"][0]
    assert body["evidence"]["source"] == "request"
    assert body["evidence"]["ageSeconds"] == 0.0
    assert body["judgeOnly"] is True
    # Reviews are cached: ten more requests cost the API server nothing.
    for _ in range(4):
        assert (await api.get(f"/v1/verdicts/{NS}/checkout", weight="10")).status == 200
    assert len(api.reviews.token_reviews) == 1
    assert len(api.reviews.access_reviews) == 1
    text = api.metrics()
    assert f'canarygate_verdicts_total{{caller="{SA}",verdict="pass"}} 5.0' in text
    assert 'canarygate_verdict_requests_total{code="200"} 5.0' in text
    assert "canarygate_verdict_request_duration_seconds_count 5.0" in text
    assert "canarygate_verdict_evaluations_total 1.0" in text


async def test_no_token_a_bad_token_and_a_forbidden_gate(api: Api) -> None:
    missing = await api.get(f"/v1/verdicts/{NS}/checkout", token=None)
    assert missing.status == 401
    assert "bearer token is required" in (await missing.json())["error"]
    bad = await api.get(f"/v1/verdicts/{NS}/checkout", token="not-a-token")
    assert bad.status == 401
    # Not allowed to get it: refused before the gate is looked up, whether it exists or not.
    for name in ("forbidden", "does-not-exist"):
        response = await api.get(f"/v1/verdicts/{NS}/{name}")
        assert response.status == 403
        body = await response.json()
        assert set(body) == {"error"}
        assert SA in body["error"]


async def test_an_allowed_caller_asking_about_no_such_gate_gets_404(api: Api) -> None:
    response = await api.get(f"/v1/verdicts/{NS}/other")
    assert response.status == 404
    assert (await response.json())["error"] == f"no CanaryGate {NS}/other"


async def test_a_secret_token_reads_only_its_own_namespace(api: Api) -> None:
    ok = await api.get(f"/v1/verdicts/{NS}/checkout", token=SECRET_TOKEN)
    assert ok.status == 200
    outside = await api.get("/v1/verdicts/default/checkout", token=SECRET_TOKEN)
    assert outside.status == 403
    intruder = await api.get(f"/v1/verdicts/{NS}/checkout", token="elsewhere-token-0123456789")
    assert intruder.status == 403
    assert api.reviews.token_reviews == []  # Secret tokens need no TokenReview


async def test_bad_input_is_a_clear_400(api: Api) -> None:
    for weight in ("101", "-1", "ten", "5.5"):
        response = await api.get(f"/v1/verdicts/{NS}/checkout", weight=weight)
        assert response.status == 400, weight
        assert "weight: an integer from 0 to 100" in (await response.json())["error"]
    api.reviews.allowed.add((SA, NS, "driven"))
    driven = await api.get(f"/v1/verdicts/{NS}/driven", weight="50")
    assert driven.status == 400
    assert "moves its own traffic" in (await driven.json())["error"]
    bad_name = await api.get(f"/v1/verdicts/{NS}/Not_A_Name")
    assert bad_name.status == 400
    unknown_path = await api.get("/v1/nothing")
    assert unknown_path.status == 404
    assert "error" in await unknown_path.json()
    wrong_method = await api.client.delete(f"/v1/verdicts/{NS}/checkout")
    assert wrong_method.status == 405


async def test_bodies_are_bounded(api: Api) -> None:
    headers = {"Authorization": f"Bearer {SA_TOKEN}", "Content-Type": "application/json"}
    big = b'{"weight": 10, "pad": "' + b"x" * MAX_BODY + b'"}'
    response = await api.client.post(f"/v1/verdicts/{NS}/checkout", data=big, headers=headers)
    assert response.status == 413
    small = await api.client.post(
        f"/v1/verdicts/{NS}/checkout", json={"weight": 20}, headers=headers
    )
    assert small.status == 200
    assert (await small.json())["weight"]["current"] == 20
    not_json = await api.client.post(f"/v1/verdicts/{NS}/checkout", data=b"{", headers=headers)
    assert not_json.status == 400


async def test_a_caller_over_its_rate_is_told_when_to_come_back(api: Api) -> None:
    codes = [(await api.get(f"/v1/verdicts/{NS}/checkout", weight="10")).status for _ in range(10)]
    assert codes[:8] == [200] * 8
    assert codes[8:] == [429, 429]
    response = await api.get(f"/v1/verdicts/{NS}/checkout", weight="10")
    assert int(response.headers["Retry-After"]) >= 1
    # Another caller has its own bucket.
    assert (await api.get(f"/v1/verdicts/{NS}/checkout", token=SECRET_TOKEN)).status == 200


async def test_failed_tokens_are_limited_per_address_before_any_review(api: Api) -> None:
    for _ in range(3):
        assert (await api.get(f"/v1/verdicts/{NS}/checkout", token="guess")).status == 401
    reviews = len(api.reviews.token_reviews)
    blocked = await api.get(f"/v1/verdicts/{NS}/checkout", token="guess-again")
    assert blocked.status == 429
    assert len(api.reviews.token_reviews) == reviews


async def test_an_api_server_that_cannot_review_is_503_never_a_yes(api: Api) -> None:
    api.reviews.down = True
    response = await api.get(f"/v1/verdicts/{NS}/checkout")
    assert response.status == 503
    assert "cannot review the token now" in (await response.json())["error"]


def flagger_payload(**metadata: str) -> dict[str, Any]:
    return {
        "name": "checkout",
        "namespace": NS,
        "phase": "Progressing",
        "checksum": "85d557f47b",
        "metadata": {"token": SECRET_TOKEN, **metadata},
    }


async def test_flaggers_hooks_get_status_codes(api: Api, recorder: Recorder) -> None:  # noqa: F811
    post = api.client.post
    confirm = await post("/v1/flagger/confirm-traffic-increase", json=flagger_payload())
    assert confirm.status == 200
    body = await confirm.json()
    assert (body["hook"], body["verdict"]) == ("confirm-traffic-increase", "pass")
    # No weight in Flagger's payload: the Canary's own (30 %) is read.
    assert body["weight"]["current"] == 30
    rollout = await post("/v1/flagger/rollout", json=flagger_payload(weight="40"))
    assert rollout.status == 200
    assert (await rollout.json())["weight"]["current"] == 40
    rollback = await post("/v1/flagger/rollback", json=flagger_payload())
    assert rollback.status == 412
    recorder.canary_error_ratio = 0.5
    api.clock.now += 600  # the answers so far are too old: the next request evaluates again
    failing = await post("/v1/flagger/rollout", json=flagger_payload(weight="50"))
    assert failing.status == 412
    failed = await failing.json()
    assert failed["verdict"] == "fail"
    assert "failed check" in failed["effect"]
    assert (await post("/v1/flagger/rollback", json=flagger_payload(weight="50"))).status == 200
    halted = await post("/v1/flagger/confirm-traffic-increase", json=flagger_payload(weight="50"))
    assert halted.status == 412
    event = await post("/v1/flagger/event", json=flagger_payload())
    assert event.status == 200
    text = api.metrics()
    assert 'canarygate_verdict_requests_total{code="412"} 3.0' in text


async def test_flagger_names_its_gate_and_must_authenticate(api: Api) -> None:
    post = api.client.post
    no_token = flagger_payload()
    del no_token["metadata"]["token"]
    assert (await post("/v1/flagger/rollout", json=no_token)).status == 401
    named = await post("/v1/flagger/rollout?gate=other-gate", json=flagger_payload())
    assert named.status == 404
    unknown = await post("/v1/flagger/promote-please", json=flagger_payload())
    assert unknown.status == 404
    assert "confirm-traffic-increase" in (await unknown.json())["error"]
    nameless = await post("/v1/flagger/rollout", json={"metadata": {"token": SECRET_TOKEN}})
    assert nameless.status == 400
    header = await post(
        "/v1/flagger/rollout",
        json={"name": "checkout", "namespace": NS},
        headers={"Authorization": f"Bearer {SA_TOKEN}"},
    )
    assert header.status == 200


async def test_the_callers_are_recorded_with_how_they_asked(api: Api) -> None:
    await api.get(f"/v1/verdicts/{NS}/checkout", weight="10")
    await api.client.post("/v1/flagger/rollout", json=flagger_payload(weight="10"))
    view = api.verdicts.callers_of(GateKey(NS, "checkout"))
    assert [(c["name"], c["via"]) for c in view] == [
        (f"secret:{NS}/verdict-tokens/flagger", "flagger/rollout"),
        (SA, "api"),
    ]
