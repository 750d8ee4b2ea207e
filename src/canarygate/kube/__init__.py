"""canarygate.kube: the only package that talks to the Kubernetes API.

Raw JSON dicts in and out (no lightkube model objects: decoding 10,000 CanaryGates costs
minutes), lightkube for configuration, TLS and auth, and every failure mapped to the
KubeError branch of `canarygate.core.errors` at this boundary.

- `connect()` -> `KubeApi`: gates (get, status and finalizer writes with optimistic
  concurrency), any namespaced object (read, replace), Events; bounded concurrency; `stats`.
- `GateInformer`: paged list + watch of CanaryGates, delivering Upsert / Deleted / Synced.
- TokenReview and SubjectAccessReview (`KubeApi.review_token`, `review_access`): who a
  verdict API caller is and whether it may read the gate it asks about.
"""

from canarygate.kube.api import KubeApi
from canarygate.kube.backoff import Backoff
from canarygate.kube.changes import Deleted, GateKey, InformerEvent, Synced, Upsert
from canarygate.kube.connecting import connect
from canarygate.kube.errors import Conflict, Forbidden, KubeError, KubeUnavailable, NotFound
from canarygate.kube.events import EventType
from canarygate.kube.informing import GateInformer
from canarygate.kube.refs import API_VERSION, GROUP, KIND, PLURAL, VERSION, GateRef, ObjectRefLike
from canarygate.kube.reviews import Identity, TokenVerdict
from canarygate.kube.stats import ApiStats

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "ApiStats",
    "Backoff",
    "Conflict",
    "Deleted",
    "EventType",
    "Forbidden",
    "GateInformer",
    "GateKey",
    "GateRef",
    "Identity",
    "InformerEvent",
    "KubeApi",
    "KubeError",
    "KubeUnavailable",
    "NotFound",
    "ObjectRefLike",
    "Synced",
    "TokenVerdict",
    "Upsert",
    "connect",
]
