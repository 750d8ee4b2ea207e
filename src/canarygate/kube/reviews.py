"""Who a bearer token belongs to, and what that identity may do: the API server's TokenReview
and SubjectAccessReview, as the verdict API asks them (a ServiceAccount token presented by a
caller, then `get` on the CanaryGate it asks about).

Both are `create` requests on cluster-scoped resources (the operator's ClusterRole grants
them, as `system:auth-delegator` does); the token itself is sent only in the review's body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@dataclass(frozen=True)
class Identity:
    """An authenticated user as the API server describes it."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenVerdict:
    """What the API server said of a token: the identity, or why it is not one."""

    identity: Identity | None
    error: str = ""


def token_review_body(token: str, audiences: Sequence[str] = ()) -> dict[str, Any]:
    spec: dict[str, Any] = {"token": token}
    if audiences:
        spec["audiences"] = list(audiences)
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec}


def read_token_review(answer: Mapping[str, Any]) -> TokenVerdict:
    status = answer.get("status") or {}
    if not isinstance(status, Mapping) or status.get("authenticated") is not True:
        error = status.get("error") if isinstance(status, Mapping) else None
        return TokenVerdict(None, str(error or "the token is not valid"))
    user = status.get("user") or {}
    name = user.get("username") if isinstance(user, Mapping) else None
    if not isinstance(name, str) or not name:
        return TokenVerdict(None, "the API server named no user for the token")
    extra = user.get("extra") or {}
    return TokenVerdict(
        Identity(
            username=name,
            uid=str(user.get("uid") or ""),
            groups=tuple(str(g) for g in user.get("groups") or ()),
            extra={
                str(k): tuple(str(v) for v in values or ())
                for k, values in (extra.items() if isinstance(extra, Mapping) else ())
            },
        )
    )


def access_review_body(
    identity: Identity, *, verb: str, group: str, resource: str, namespace: str, name: str
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "user": identity.username,
        "groups": list(identity.groups),
        "resourceAttributes": {
            "verb": verb,
            "group": group,
            "resource": resource,
            "namespace": namespace,
            "name": name,
        },
    }
    if identity.uid:
        spec["uid"] = identity.uid
    if identity.extra:
        spec["extra"] = {k: list(v) for k, v in identity.extra.items()}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


def read_access_review(answer: Mapping[str, Any]) -> bool:
    status = answer.get("status") or {}
    return isinstance(status, Mapping) and status.get("allowed") is True
