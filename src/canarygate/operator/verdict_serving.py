"""The verdict API on its own address (`canarygate run --verdict-address`), read-only:

    GET  /v1/verdicts/NAMESPACE/NAME[?weight=N]   the verdict on one gate, as JSON (200)
    POST /v1/verdicts/NAMESPACE/NAME              the same; the weight may be in a JSON body
    POST /v1/flagger/HOOK[?gate=[NS/]NAME]        Flagger's webhook: its payload in, a status
                                                  code out (core.judging.hook_answer)

Each request: a bearer token (see `authenticating`), a token bucket per caller (and one per
client address for failed tokens, so bad tokens cannot make the operator flood the API server
with reviews), bodies of at most MAX_BODY bytes, then the gate. Errors are JSON
`{"error": "..."}` with 400 (bad input), 401 (no or unknown token), 403 (not allowed to read
that gate, asked before the gate is looked up, so a refusal says nothing of its existence),
404 (no such gate or path), 405, 413 (body too large), 429 (with Retry-After) or 503 (not
ready, or the API server could not review the token).

A verdict is 200 whatever it says: `fail` is an answer, not a failure of the API. Argo
Rollouts reads it with a `jsonPath`; only Flagger's webhooks get their answer as a status.
"""

from __future__ import annotations

import json
import logging
import math
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from canarygate.api.documents import decision_document
from canarygate.core.judging import Hook, Judgement, hook_answer
from canarygate.operator.authenticating import (
    Authenticator,
    AuthSettings,
    Caller,
    Unauthenticated,
    Unavailable,
)
from canarygate.operator.limiting import RateLimiter
from canarygate.operator.observing import Observer
from canarygate.operator.serving import parse_address
from canarygate.operator.verdicts import Answer, Refused, Verdicts, VerdictSettings

log = logging.getLogger("canarygate.verdicts")

MAX_BODY: Final = 64 * 1024
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Reads the weight of a Flagger Canary (status.canaryWeight), or None when it cannot.
CanaryWeight = Callable[[str, str], Awaitable[int | None]]


@dataclass(frozen=True)
class VerdictApiSettings:
    address: str | None = None  # None: no verdict API
    verdicts: VerdictSettings = field(default_factory=VerdictSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    # Per caller: requests a second on average, and the burst allowed.
    rate: float = 20.0
    burst: float = 40.0
    # Per client address, failed authentications (each may cost a TokenReview).
    failed_rate: float = 1.0
    failed_burst: float = 10.0
    tls_cert_file: str | None = None
    tls_key_file: str | None = None


class _Problem(Exception):
    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    headers = {"Retry-After": str(max(1, math.ceil(retry_after)))} if retry_after else None
    return web.json_response({"error": message}, status=status, headers=headers)


def parse_weight(text: str | None, source: str) -> int | None:
    if text is None or text == "":
        return None
    if not text.isdigit() or not 0 <= int(text) <= 100:
        shown = text[:20] + ("..." if len(text) > 20 else "")
        raise _Problem(400, f"{source}: an integer from 0 to 100, got {shown!r}")
    return int(text)


def split_gate(text: str, default_namespace: str | None) -> tuple[str, str]:
    namespace, slash, name = text.rpartition("/")
    if not slash:
        namespace = default_namespace or ""
    if not _NAMESPACE.match(namespace) or not _NAME.match(name):
        raise _Problem(400, f"gate: NAMESPACE/NAME of a CanaryGate, got {text[:80]!r}")
    return namespace, name


def answer_document(answer: Answer) -> dict[str, Any]:
    """The verdict, then the evidence: the same keys as `canarygate evaluate -o json`."""
    document: dict[str, Any] = {
        "gate": str(answer.key),
        "verdict": str(answer.judgement),
        "revision": answer.revision,
        "judgeOnly": answer.judge_only,
    }
    if answer.decision is not None:
        document |= decision_document(str(answer.key), answer.decision)
        document["verdict"] = str(answer.judgement)
        if answer.approval is not None:
            document["action"] = "hold"
            document["reasons"] = [
                f"hold: {answer.decision.awaits_approval or answer.decision.action} waits for "
                f"approval {answer.approval}",
                *document["reasons"],
            ]
        document["evaluatedAt"] = document.pop("at")
    else:
        document |= {
            "weight": {"current": answer.weight, "next": answer.weight},
            "reasons": [answer.because],
            "evaluatedAt": None,
        }
    document["evidence"] = {
        "source": answer.source,
        "ageSeconds": None if answer.age_seconds is None else round(answer.age_seconds, 3),
        "maxAgeSeconds": answer.max_age_seconds,
    }
    return document


class VerdictApi:
    def __init__(
        self,
        verdicts: Verdicts,
        authenticator: Authenticator,
        observer: Observer,
        settings: VerdictApiSettings,
        *,
        canary_weight: CanaryWeight | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verdicts = verdicts
        self.auth = authenticator
        self.observer = observer
        self.settings = settings
        self.canary_weight = canary_weight
        self._clock = clock
        self.callers = RateLimiter(settings.rate, settings.burst, clock=clock)
        self.failures = RateLimiter(settings.failed_rate, settings.failed_burst, clock=clock)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._middleware])
        app.router.add_get("/v1/verdicts/{namespace}/{name}", self.verdict)
        app.router.add_post("/v1/verdicts/{namespace}/{name}", self.verdict)
        app.router.add_post("/v1/flagger/{hook}", self.flagger)
        return app

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = self._clock()
        try:
            response = await handler(request)
        except _Problem as problem:
            response = _error(problem.status, str(problem), problem.retry_after)
        except Refused as refused:
            response = _error(refused.status, str(refused))
        except web.HTTPRequestEntityTooLarge:
            response = _error(413, f"the body may hold at most {MAX_BODY} bytes")
        except web.HTTPException as error:  # 404 and 405 from the router
            response = _error(error.status, error.reason)
        except Exception:
            log.exception("verdict API: %s %s failed", request.method, request.path)
            response = _error(500, "internal error; see the operator's log")
        self.observer.verdict_requests.labels(code=str(response.status)).inc()
        self.observer.verdict_duration.observe(self._clock() - started)
        return response

    # -- who asks ---------------------------------------------------------------------------

    async def _caller(
        self, request: web.Request, token: str | None, namespace: str, name: str
    ) -> Caller:
        address = request.remote or "?"
        waits = self.failures.blocked(address)
        if waits is not None:
            raise _Problem(429, "too many failed authentications from this address", waits)
        try:
            caller = await self.auth.authenticate(token)
        except Unauthenticated as error:
            self.failures.take(address)
            raise _Problem(401, str(error)) from None
        except Unavailable as error:
            raise _Problem(503, str(error)) from None
        waits = self.callers.take(caller.name)
        if waits is not None:
            raise _Problem(429, f"rate limit of {self.settings.rate:g}/s for {caller.name}", waits)
        try:
            allowed = await self.auth.authorize(caller, namespace, name)
        except Unavailable as error:
            raise _Problem(503, str(error)) from None
        if not allowed:
            raise _Problem(403, f"{caller.name} may not get CanaryGate {namespace}/{name}")
        return caller

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    async def _json(self, request: web.Request) -> Mapping[str, Any]:
        if not request.can_read_body:
            return {}
        raw = await request.read()
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise _Problem(400, "the body is not JSON") from None
        if not isinstance(body, Mapping):
            raise _Problem(400, "the body must be a JSON object")
        return body

    # -- the endpoints ----------------------------------------------------------------------

    async def verdict(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        if not _NAMESPACE.match(namespace) or not _NAME.match(name):
            raise _Problem(400, "the path names no CanaryGate: /v1/verdicts/NAMESPACE/NAME")
        weight = parse_weight(request.query.get("weight"), "weight")
        body = await self._json(request) if request.method == "POST" else {}
        if weight is None and "weight" in body:
            given = body["weight"]
            if isinstance(given, bool) or not isinstance(given, int | str):
                raise _Problem(400, "weight: an integer from 0 to 100")
            weight = parse_weight(str(given), "weight")
        caller = await self._caller(request, self._bearer(request), namespace, name)
        answer = await self.verdicts.answer(namespace, name, weight, caller=caller.name, via="api")
        self.observer.verdicts.labels(verdict=str(answer.judgement), caller=caller.name).inc()
        return web.json_response(answer_document(answer))

    async def flagger(self, request: web.Request) -> web.Response:
        try:
            hook = Hook(request.match_info["hook"])
        except ValueError:
            raise _Problem(404, f"no Flagger hook {request.match_info['hook'][:40]!r}; expected "
                           f"one of {', '.join(h.value for h in Hook)}") from None  # fmt: skip
        payload = await self._json(request)
        metadata = payload.get("metadata") or {}
        if not isinstance(metadata, Mapping):
            raise _Problem(400, "metadata must be a JSON object of strings")
        canary_namespace, canary_name = payload.get("namespace"), payload.get("name")
        if not isinstance(canary_namespace, str) or not isinstance(canary_name, str):
            raise _Problem(400, "Flagger's payload names its Canary: name and namespace")
        named = request.query.get("gate") or metadata.get("gate")
        if named is not None and not isinstance(named, str):
            raise _Problem(400, "gate: NAMESPACE/NAME of a CanaryGate")
        namespace, name = split_gate(named or f"{canary_namespace}/{canary_name}", canary_namespace)
        weight = parse_weight(request.query.get("weight"), "weight")
        if weight is None and metadata.get("weight") is not None:
            weight = parse_weight(str(metadata["weight"]), "metadata.weight")
        token = self._bearer(request) or metadata.get("token")
        caller = await self._caller(
            request, token if isinstance(token, str) else None, namespace, name
        )
        via = f"flagger/{hook}"
        if hook in (Hook.EVENT, Hook.POST_ROLLOUT):
            decided = hook_answer(hook, Judgement.INCONCLUSIVE)  # the same for every verdict
            return web.json_response({"hook": str(hook), "effect": decided.effect})
        if (
            weight is None
            and self.canary_weight is not None
            and self.verdicts.judge_only(namespace, name)
        ):
            weight = await self.canary_weight(canary_namespace, canary_name)
        answer = await self.verdicts.answer(namespace, name, weight, caller=caller.name, via=via)
        decided = hook_answer(hook, answer.judgement)
        self.observer.verdicts.labels(verdict=str(answer.judgement), caller=caller.name).inc()
        document = {
            "hook": str(hook),
            "effect": decided.effect,
            **answer_document(answer),
        }
        return web.json_response(document, status=decided.status)


async def serve_verdicts(api: VerdictApi, address: str) -> web.AppRunner:
    host, port = parse_address(address)
    context: ssl.SSLContext | None = None
    if api.settings.tls_cert_file:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(api.settings.tls_cert_file, api.settings.tls_key_file)
    runner = web.AppRunner(api.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, ssl_context=context).start()
    return runner
