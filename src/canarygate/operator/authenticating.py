"""Who calls the verdict API, and which gates each caller may hear about.

Every request carries a bearer token (`Authorization: Bearer ...`, or for Flagger, whose
webhooks send no headers, `metadata.token` in the body). Two kinds are accepted:

- a token from a Secret named by `--verdict-token-secret NAMESPACE/NAME`: each key of the
  Secret is one caller (`secret:NAMESPACE/NAME/KEY`) and its value that caller's token (at
  least 16 characters). Such a caller may read the gates of the Secret's namespace only. The
  Secrets are read again every `secret_refresh_seconds`, so a token is rotated by editing it.
- any other token is asked about with a TokenReview (a ServiceAccount's token, typically),
  and then the identity the API server names must be allowed `get` on that very CanaryGate
  (a SubjectAccessReview): a caller learns nothing about a gate it could not read itself.

Answers are cached (`cache_seconds` for a yes, `negative_cache_seconds` for a no), keyed by a
hash of the token, never the token, so a thousand polling callers cost the API server a review
per caller and minute, not per request. A review the API server could not answer is not
cached and makes the request fail with 503, never a yes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, Protocol, TypeVar

from canarygate.core.errors import KubeError
from canarygate.kube import GROUP, PLURAL, Identity, NotFound, TokenVerdict
from canarygate.operator.receivers import SecretRef

log = logging.getLogger("canarygate.verdicts")

MIN_TOKEN_LENGTH: Final = 16
CACHE_ENTRIES: Final = 10_000


class ReviewApi(Protocol):
    async def review_token(self, token: str, audiences: Sequence[str] = ()) -> TokenVerdict: ...

    async def review_access(
        self, identity: Identity, *, verb: str, group: str, resource: str, namespace: str,
        name: str,
    ) -> bool: ...  # fmt: skip

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class AuthSettings:
    token_secrets: tuple[SecretRef, ...] = ()
    # Accept tokens the API server knows (TokenReview), checked against RBAC per gate.
    token_review: bool = True
    audiences: tuple[str, ...] = ()
    cache_seconds: float = 60.0
    negative_cache_seconds: float = 10.0
    secret_refresh_seconds: float = 30.0


@dataclass(frozen=True)
class Caller:
    name: str
    # For a token the API server reviewed: whom to ask RBAC about.
    identity: Identity | None = None
    # For a Secret's token: the only namespace whose gates it may read.
    namespace: str | None = None


class Unauthenticated(Exception):
    """No token, or one nobody knows: 401."""


class Unavailable(Exception):
    """The API server could not be asked: 503 (never a yes)."""


K = TypeVar("K")
V = TypeVar("V")


class _Cache(Generic[K, V]):
    """A bounded map whose entries expire; the oldest entry goes when it is full."""

    def __init__(self, clock: Callable[[], float], limit: int = CACHE_ENTRIES) -> None:
        self._clock = clock
        self._limit = limit
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> tuple[bool, V | None]:
        found = self._entries.get(key)
        if found is None:
            return False, None
        expires, value = found
        if self._clock() >= expires:
            del self._entries[key]
            return False, None
        return True, value

    def put(self, key: K, value: V, ttl: float) -> None:
        self._entries[key] = (self._clock() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._limit:
            self._entries.popitem(last=False)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_from_secret(ref: SecretRef, secret: Mapping[str, Any]) -> dict[str, str]:
    """Caller name by token digest for one Secret: each key a caller, its value the token."""
    data = secret.get("data") or {}
    found: dict[str, str] = {}
    if not isinstance(data, Mapping):
        log.warning("verdict token Secret %s: its data is not a map; no token taken", ref)
        return found
    for key, encoded in sorted(data.items()):
        try:
            token = base64.b64decode(str(encoded), validate=True).decode().strip()
        except (binascii.Error, UnicodeDecodeError):
            log.warning("verdict token Secret %s: key %s is not base64 text; skipped", ref, key)
            continue
        if len(token) < MIN_TOKEN_LENGTH:
            log.warning(
                "verdict token Secret %s: key %s holds fewer than %d characters; skipped",
                ref, key, MIN_TOKEN_LENGTH,
            )  # fmt: skip
            continue
        found[digest(token)] = f"secret:{ref}/{key}"
    return found


class Authenticator:
    def __init__(
        self,
        api: ReviewApi,
        settings: AuthSettings = AuthSettings(),
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.settings = settings
        self._secret_tokens: dict[str, Caller] = {}
        self._tokens: _Cache[str, Caller | None] = _Cache(clock)
        self._access: _Cache[tuple[str, str, str], bool] = _Cache(clock)
        self._task: asyncio.Task[None] | None = None
        self.reviews = 0  # TokenReviews and SubjectAccessReviews sent (the bench reads it)

    async def start(self) -> None:
        await self.refresh()
        if self.settings.token_secrets:
            self._task = asyncio.create_task(self._refresh_loop(), name="canarygate tokens")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        """Read the token Secrets again; a Secret that cannot be read keeps its last tokens."""
        tokens: dict[str, Caller] = {}
        for ref in self.settings.token_secrets:
            try:
                secret = await self.api.get_secret(ref.namespace, ref.name)
            except NotFound:
                log.warning("verdict token Secret %s does not exist; its callers are refused", ref)
                continue
            except KubeError as error:
                log.warning(
                    "verdict token Secret %s unreadable (%s); its last tokens kept", ref, error
                )
                tokens.update(
                    {d: c for d, c in self._secret_tokens.items() if c.namespace == ref.namespace
                     and c.name.startswith(f"secret:{ref}/")}
                )  # fmt: skip
                continue
            for token_digest, name in tokens_from_secret(ref, secret).items():
                tokens[token_digest] = Caller(name, namespace=ref.namespace)
        self._secret_tokens = tokens

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.secret_refresh_seconds)
            try:
                await self.refresh()
            except Exception:  # a refresh must never end the loop
                log.exception("reading the verdict token Secrets failed")

    async def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise Unauthenticated("a bearer token is required")
        token_digest = digest(token)
        for known, caller in self._secret_tokens.items():
            if hmac.compare_digest(known, token_digest):
                return caller
        if not self.settings.token_review:
            raise Unauthenticated("the token is not one of the verdict API's tokens")
        cached, found = self._tokens.get(token_digest)
        if cached:
            if found is None:
                raise Unauthenticated("the token is not valid")
            return found
        try:
            self.reviews += 1
            verdict = await self.api.review_token(token, self.settings.audiences)
        except KubeError as error:
            raise Unavailable(f"cannot review the token now: {error}") from None
        if verdict.identity is None:
            self._tokens.put(token_digest, None, self.settings.negative_cache_seconds)
            raise Unauthenticated(f"the token is not valid: {verdict.error}")
        caller = Caller(verdict.identity.username, identity=verdict.identity)
        self._tokens.put(token_digest, caller, self.settings.cache_seconds)
        return caller

    async def authorize(self, caller: Caller, namespace: str, name: str) -> bool:
        """Whether `caller` may hear about CanaryGate namespace/name."""
        if caller.identity is None:
            return caller.namespace == namespace
        key = (caller.name, namespace, name)
        cached, allowed = self._access.get(key)
        if cached:
            return bool(allowed)
        try:
            self.reviews += 1
            allowed = await self.api.review_access(
                caller.identity, verb="get", group=GROUP, resource=PLURAL, namespace=namespace,
                name=name,
            )  # fmt: skip
        except KubeError as error:
            raise Unavailable(f"cannot review access now: {error}") from None
        ttl = self.settings.cache_seconds if allowed else self.settings.negative_cache_seconds
        self._access.put(key, allowed, ttl)
        return allowed
