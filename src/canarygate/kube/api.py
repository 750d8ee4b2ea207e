"""KubeApi: every request canarygate makes to the Kubernetes API, as raw JSON dicts.

CanaryGates (get, status and finalizer writes with optimistic concurrency, paged lists and
watches for the informer), any namespaced object named by an ObjectRef (read, replace),
Events about a gate, and Secrets (read: the notification receivers). Errors are
canarygate's KubeError tree; no lightkube model is built.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar

from lightkube import AsyncClient

from canarygate.kube._lightkube import http_client_of
from canarygate.kube._raw import MERGE_PATCH, RawClient
from canarygate.kube.errors import KubeError, NotFound
from canarygate.kube.events import EventType, event_body
from canarygate.kube.refs import (
    GROUP,
    PLURAL,
    VERSION,
    GateRef,
    ObjectRefLike,
    api_version,
    collection_path,
    object_path,
    ref_path,
    ref_target,
    target,
)
from canarygate.kube.reviews import (
    ACCESS_REVIEWS,
    TOKEN_REVIEWS,
    Identity,
    TokenVerdict,
    access_review_body,
    read_access_review,
    read_token_review,
    token_review_body,
)
from canarygate.kube.stats import ApiStats

logger = logging.getLogger(__name__)

R = TypeVar("R", bound=ObjectRefLike)

DEFAULT_MAX_WRITES = 16
DEFAULT_MAX_READS = 32


class KubeApi:
    """One connection to one cluster. Build it with `canarygate.kube.connect()`; the
    lightkube client supplies configuration, TLS and auth, requests are sent raw."""

    def __init__(
        self,
        client: AsyncClient,
        *,
        field_manager: str = "canarygate",
        max_writes: int = DEFAULT_MAX_WRITES,
        max_reads: int = DEFAULT_MAX_READS,
        instance: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.stats = ApiStats()
        self._client = client
        self._raw = RawClient(
            http_client_of(client),
            stats=self.stats,
            field_manager=field_manager,
            max_writes=max_writes,
            max_reads=max_reads,
        )
        # Who posts Events (reportingInstance): the pod name in a cluster, else the host.
        self.instance = instance or os.environ.get("POD_NAME") or socket.gethostname()
        self._clock = clock or (lambda: datetime.now(UTC))

    async def close(self) -> None:
        await self._client.close()

    async def __aenter__(self) -> KubeApi:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    # CanaryGates ---------------------------------------------------------------------------

    async def get_gate(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._raw.request(
            "GET",
            object_path(GROUP, VERSION, PLURAL, namespace, name),
            verb="get",
            target=target(GROUP, PLURAL, namespace, name),
        )

    async def patch_gate_status(
        self, namespace: str, name: str, status: Mapping[str, Any], *, resource_version: str
    ) -> dict[str, Any]:
        """JSON merge patch of the status subresource (a key set to None is removed). The
        body carries `resourceVersion`, so a gate changed since it was read gives Conflict."""
        _require_version(resource_version, namespace, name)
        body = {"metadata": {"resourceVersion": resource_version}, "status": dict(status)}
        return await self._raw.request(
            "PATCH",
            object_path(GROUP, VERSION, PLURAL, namespace, name, "status"),
            verb="patch",
            target=target(GROUP, PLURAL, namespace, name, "status"),
            body=body,
            content_type=MERGE_PATCH,
        )

    async def set_gate_finalizers(
        self, namespace: str, name: str, finalizers: list[str], *, resource_version: str
    ) -> dict[str, Any]:
        """Replace `metadata.finalizers` (merge patch of the main resource), Conflict if the
        gate changed since `resource_version`."""
        _require_version(resource_version, namespace, name)
        body = {"metadata": {"resourceVersion": resource_version, "finalizers": finalizers}}
        return await self._raw.request(
            "PATCH",
            object_path(GROUP, VERSION, PLURAL, namespace, name),
            verb="patch",
            target=target(GROUP, PLURAL, namespace, name),
            body=body,
            content_type=MERGE_PATCH,
        )

    async def set_gate_annotations(
        self,
        namespace: str,
        name: str,
        annotations: Mapping[str, str | None],
        *,
        resource_version: str,
    ) -> dict[str, Any]:
        """Set (or, with None, remove) annotations of a gate: a merge patch of the main
        resource, Conflict if the gate changed since `resource_version`."""
        _require_version(resource_version, namespace, name)
        body = {"metadata": {"resourceVersion": resource_version, "annotations": dict(annotations)}}
        return await self._raw.request(
            "PATCH",
            object_path(GROUP, VERSION, PLURAL, namespace, name),
            verb="patch",
            target=target(GROUP, PLURAL, namespace, name),
            body=body,
            content_type=MERGE_PATCH,
        )

    async def list_gates(
        self, namespace: str | None, *, limit: int, continue_token: str | None = None
    ) -> dict[str, Any]:
        """One page of a CanaryGateList (raw); `metadata.continue` names the next page."""
        params: dict[str, str | int] = {"limit": limit}
        if continue_token:
            params["continue"] = continue_token
        return await self._raw.request(
            "GET",
            collection_path(GROUP, VERSION, PLURAL, namespace),
            verb="list",
            target=target(GROUP, PLURAL, namespace),
            params=params,
        )

    def watch_gates(
        self, namespace: str | None, *, resource_version: str, timeout_seconds: int
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """A watch from `resource_version` with bookmarks; the server ends it after
        `timeout_seconds`. Yields raw watch events `{"type": ..., "object": {...}}`."""
        params: dict[str, str | int] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        return self._raw.watch(
            collection_path(GROUP, VERSION, PLURAL, namespace),
            params=params,
            # A silent connection is dead once the server's own deadline has long passed.
            read_timeout=timeout_seconds + 30.0,
            target=target(GROUP, PLURAL, namespace),
        )

    def watch_gate(
        self, namespace: str, name: str, *, resource_version: str | None, timeout_seconds: int
    ) -> AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]:
        """A watch of one gate (`fieldSelector=metadata.name=NAME`), with bookmarks; the server
        ends it after `timeout_seconds`. From `resource_version`, or with None from now, the
        server first sending the gate as it is (an ADDED event): a single object's own
        resourceVersion may be older than what etcd still keeps (410 Gone). A Role may grant
        it on that one gate (`resourceNames`): the API server authorizes a watch narrowed to
        one name by that name."""
        params: dict[str, str | int] = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
            "fieldSelector": f"metadata.name={name}",
        }
        if resource_version is not None:
            params["resourceVersion"] = resource_version
        return self._raw.watch(
            collection_path(GROUP, VERSION, PLURAL, namespace),
            params=params,
            read_timeout=timeout_seconds + 30.0,
            target=target(GROUP, PLURAL, namespace, name),
        )

    # Any namespaced object -----------------------------------------------------------------

    async def read_objects(self, refs: Iterable[R]) -> dict[R, dict[str, Any]]:
        """Read every object concurrently (within the read bound). An object that does not
        exist is absent from the result; any other failure raises (the first, in `refs`
        order) once all reads are done, so no caller acts on a partial view by accident."""
        unique = list(dict.fromkeys(refs))
        results = await asyncio.gather(*(self._read(ref) for ref in unique), return_exceptions=True)
        found: dict[R, dict[str, Any]] = {}
        for ref, result in zip(unique, results, strict=True):
            if isinstance(result, NotFound):
                continue
            if isinstance(result, BaseException):
                raise result
            found[ref] = result
        return found

    async def _read(self, ref: ObjectRefLike) -> dict[str, Any]:
        return await self._raw.request("GET", ref_path(ref), verb="get", target=ref_target(ref))

    async def create_object(self, ref: ObjectRefLike, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST a new object named by `ref` (409 Conflict if it exists already)."""
        sent = {
            "apiVersion": api_version(ref.group, ref.version),
            "kind": ref.kind,
            **body,
            "metadata": {**(body.get("metadata") or {}), "name": ref.name,
                         "namespace": ref.namespace},
        }  # fmt: skip
        return await self._raw.request(
            "POST",
            collection_path(ref.group, ref.version, ref.plural, ref.namespace),
            verb="create",
            target=ref_target(ref),
            body=sent,
        )

    async def replace_object(self, ref: ObjectRefLike, body: Mapping[str, Any]) -> dict[str, Any]:
        """PUT `body` (a whole object as read, then changed). Its `metadata.resourceVersion`
        makes the write conditional: Conflict if the object changed meanwhile."""
        metadata = body.get("metadata") or {}
        if not metadata.get("resourceVersion"):
            raise ValueError(f"replace {ref_target(ref)}: the body has no resourceVersion")
        if metadata.get("name") != ref.name or metadata.get("namespace", ref.namespace) != (
            ref.namespace
        ):
            raise ValueError(f"replace {ref_target(ref)}: the body names another object")
        sent = {"apiVersion": api_version(ref.group, ref.version), "kind": ref.kind, **body}
        return await self._raw.request(
            "PUT", ref_path(ref), verb="update", target=ref_target(ref), body=sent
        )

    # Who is asking -------------------------------------------------------------------------

    async def whoami(self) -> str | None:
        """The user name the API server authenticated this connection as (a
        SelfSubjectReview, which every authenticated user may create), or None when the
        server cannot say (an older server, a proxy that refuses it)."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        try:
            review = await self._raw.request(
                "POST",
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                verb="create",
                target="selfsubjectreviews",
                body=body,
            )
        except KubeError:
            return None
        user = ((review.get("status") or {}).get("userInfo") or {}).get("username")
        return user if isinstance(user, str) and user else None

    # Secrets -------------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        """One core/v1 Secret, raw (`data` values are base64). Errors, like every other
        request's, name the Secret and never its content."""
        return await self._raw.request(
            "GET",
            object_path("", "v1", "secrets", namespace, name),
            verb="get",
            target=target("", "secrets", namespace, name),
        )

    # Reviews: who a token is, what it may do ------------------------------------------------

    async def review_token(self, token: str, audiences: Sequence[str] = ()) -> TokenVerdict:
        """TokenReview: the identity a bearer token stands for, or why it stands for none.
        A refusal of the review itself (no right to create it, an API failure) raises."""
        answer = await self._raw.request(
            "POST",
            TOKEN_REVIEWS,
            verb="create",
            target="tokenreviews.authentication.k8s.io",
            body=token_review_body(token, audiences),
        )
        return read_token_review(answer)

    async def review_access(
        self,
        identity: Identity,
        *,
        verb: str,
        group: str,
        resource: str,
        namespace: str,
        name: str,
    ) -> bool:
        """SubjectAccessReview: whether `identity` may `verb` that object."""
        answer = await self._raw.request(
            "POST",
            ACCESS_REVIEWS,
            verb="create",
            target="subjectaccessreviews.authorization.k8s.io",
            body=access_review_body(
                identity, verb=verb, group=group, resource=resource, namespace=namespace,
                name=name,
            ),
        )  # fmt: skip
        return read_access_review(answer)

    # Events --------------------------------------------------------------------------------

    async def emit_event(
        self,
        gate: GateRef,
        *,
        type: EventType,
        reason: str,
        message: str,
        action: str | None = None,
    ) -> None:
        """Post a core/v1 Event about `gate` (shown by `kubectl describe cg`). Never raises:
        an Event is commentary, so a failure is logged at warning and counted."""
        body = event_body(
            gate,
            type=type,
            reason=reason,
            message=message,
            action=action or reason,
            instance=self.instance,
            now=self._clock(),
        )
        try:
            await self._raw.request(
                "POST",
                collection_path("", "v1", "events", gate.namespace),
                verb="create",
                target=target("", "events", gate.namespace, body["metadata"]["name"]),
                body=body,
            )
        except KubeError as error:
            self.stats.events_failed += 1
            logger.warning(
                "could not post Event %s on %s/%s: %s", reason, gate.namespace, gate.name, error
            )
        except Exception as error:  # an Event must never take its caller down
            self.stats.events_failed += 1
            logger.warning(
                "could not post Event %s on %s/%s: %r", reason, gate.namespace, gate.name, error
            )


def _require_version(resource_version: str, namespace: str, name: str) -> None:
    if not resource_version:
        raise ValueError(
            f"{namespace}/{name}: a resourceVersion is required (writes are conditional)"
        )
