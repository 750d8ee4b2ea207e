"""How to reach one Prometheus (`PrometheusConfig`), validated when it is built, so that an
unusable setting fails in one line before any query is sent.

- The address is canonicalised by `core.addresses.parse_address`: every spelling of one
  Prometheus (`http://h:9090`, `http://h:9090/`, `HTTP://H:9090`) is one config, equal and
  with one hash, hence one client. An unusable address raises SpecError.
- Credentials in the URL (`http://user:pw@host`) become basic auth and replace any configured
  `basic_auth` or `bearer_token`: they are the most specific statement for that server.
  Secrets never appear in `repr`, and `secret_texts` lists what messages must never show.
- A token or credentials HTTP cannot carry, a CA file that is missing, a directory or not
  PEM, and nonsense limits raise ConfigurationError (SpecError for credentials in the URL).

Limits: each attempt is bounded as a whole by `timeout`; a whole query, retries and waits
included, by `query_deadline` (see `metrics.pacing`); an answer by `max_response_bytes`
(default 8 MiB: a gate query returns one number, so anything near that is a mistake).
"""

from __future__ import annotations

import base64
import functools
import math
import os
import ssl
import stat
from dataclasses import dataclass, field
from typing import Final

from canarygate.core import defaults
from canarygate.core.addresses import Address, parse_address
from canarygate.core.errors import ConfigurationError, SpecError

DEFAULT_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024


@dataclass(frozen=True)
class PrometheusConfig:
    address: str
    timeout: float = defaults.QUERY_TIMEOUT.seconds
    retries: int = defaults.QUERY_RETRIES
    backoff: float = 0.25
    max_backoff: float = 5.0
    max_concurrency: int = 16
    # After failures went on for as many rounds as one query may make, others fail fast for
    # this long instead of each waiting out its own timeouts (None: max(5 s, timeout)).
    breaker_cooldown: float | None = None
    # The bound of one whole query, retries and waits included (None: timeout x attempts).
    deadline: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    bearer_token: str | None = field(default=None, repr=False)
    basic_auth: tuple[str, str] | None = field(default=None, repr=False)
    ca_file: str | None = None
    insecure_skip_verify: bool = False

    def __post_init__(self) -> None:
        address = parse_address(self.address)
        object.__setattr__(self, "address", address.url)
        if address.username is not None:
            object.__setattr__(self, "basic_auth", _url_credentials(address))
            object.__setattr__(self, "bearer_token", None)
        else:
            _check_credentials(self.bearer_token, self.basic_auth)
        _check_limits(self)
        if self.ca_file is not None:
            ca_context(self.ca_file)

    @property
    def query_deadline(self) -> float:
        return self.deadline if self.deadline is not None else self.timeout * (self.retries + 1)

    @property
    def cooldown(self) -> float:
        cooldown = self.breaker_cooldown
        return cooldown if cooldown is not None else max(5.0, self.timeout)


def tls_verification(config: PrometheusConfig) -> ssl.SSLContext | bool:
    if config.insecure_skip_verify:
        return False
    return ca_context(config.ca_file) if config.ca_file else True


def secret_texts(config: PrometheusConfig) -> tuple[str, ...]:
    """Texts no message may show: the token, the password and the encoded basic auth."""
    texts = [config.bearer_token or ""]
    if config.basic_auth:
        user, password = config.basic_auth
        texts += [password, base64.b64encode(f"{user}:{password}".encode()).decode()]
    return tuple(text for text in texts if text)


def ca_context(path: str) -> ssl.SSLContext:
    """A TLS context trusting the PEM bundle at `path`, or ConfigurationError."""
    try:
        found = os.stat(path)
    except OSError as error:
        raise ConfigurationError(f"ca_file {path!r}: {error.strerror or error}") from None
    if not stat.S_ISREG(found.st_mode):
        raise ConfigurationError(f"ca_file {path!r} is not a file (a PEM CA bundle is needed)")
    return _loaded_ca(path, found.st_mtime_ns, found.st_size, found.st_ino)


# Configs are built per gate and per tick; loading a bundle costs milliseconds, so a loaded
# one is reused until the file changes (its stat is part of the key).
@functools.lru_cache(maxsize=16)
def _loaded_ca(path: str, mtime_ns: int, size: int, inode: int) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=path)
    except ssl.SSLError:
        raise ConfigurationError(
            f"ca_file {path!r} holds no usable PEM certificate "
            "(a PEM CA bundle is needed: -----BEGIN CERTIFICATE----- ...)"
        ) from None
    except OSError as error:
        raise ConfigurationError(f"ca_file {path!r}: {error.strerror or error}") from None


def _url_credentials(address: Address) -> tuple[str, str]:
    user, password = address.username or "", address.password or ""
    for name, text in (("user", user), ("password", password)):
        problem = _uncarriable(text, allow_space=True, allow_colon=name == "password")
        if problem:
            raise SpecError("spec.prometheus.address", f"the {name} in the URL holds {problem}")
    return user, password


def _check_credentials(token: str | None, basic_auth: tuple[str, str] | None) -> None:
    if token is not None and basic_auth is not None:
        raise ConfigurationError("set one of bearer_token and basic_auth, not both")
    if token is not None:
        if not token:
            raise ConfigurationError("the bearer token is empty")
        problem = _uncarriable(token, allow_space=False, allow_colon=True)
        if problem:
            raise ConfigurationError(f"the bearer token holds {problem}")
    if basic_auth is not None:
        user, password = basic_auth
        for name, text in (("user", user), ("password", password)):
            problem = _uncarriable(text, allow_space=True, allow_colon=name == "password")
            if problem:
                raise ConfigurationError(f"the basic-auth {name} holds {problem}")


def _uncarriable(text: str, *, allow_space: bool, allow_colon: bool) -> str | None:
    """What in `text` an HTTP header cannot carry, said without showing `text`; else None."""
    for position, char in enumerate(text, start=1):
        if (char == " " and allow_space) or (char == ":" and allow_colon):
            continue
        if char in " :":
            kind = "a space" if char == " " else "a colon (it separates user and password)"
        elif char in "\r\n":
            kind = "a line break"
        elif not char.isascii():
            kind = "a non-ASCII character"
        elif not char.isprintable():
            kind = "a control character"
        else:
            continue
        return f"{kind} at position {position}, which HTTP headers cannot carry"
    return None


def _check_limits(config: PrometheusConfig) -> None:
    positive = {"timeout": config.timeout, "deadline": config.deadline}
    not_negative = {
        "backoff": config.backoff,
        "max_backoff": config.max_backoff,
        "breaker_cooldown": config.breaker_cooldown,
    }
    counts = {
        "retries": (config.retries, 0),
        "max_concurrency": (config.max_concurrency, 1),
        "max_response_bytes": (config.max_response_bytes, 1),
    }
    for name, seconds in positive.items():
        if seconds is not None and not (_finite(seconds) and seconds > 0):
            raise ConfigurationError(f"{name} must be a positive number of seconds, not {seconds}")
    for name, seconds in not_negative.items():
        if seconds is not None and not (_finite(seconds) and seconds >= 0):
            raise ConfigurationError(f"{name} must be 0 or more seconds, not {seconds}")
    for name, (count, least) in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < least:
            raise ConfigurationError(f"{name} must be a whole number >= {least}, not {count}")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
