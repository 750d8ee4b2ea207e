"""Reading an answer's body with a size cap: streamed, decoded (gzip) within the cap, and
abandoned as soon as it is known to be too large, so that no answer costs more memory than
`max_response_bytes`, however long or however well compressed it is."""

from __future__ import annotations

import zlib

import httpx

from canarygate.core.errors import MetricsUnavailable
from canarygate.metrics.errors import AnswerTooLarge, MalformedAnswer

# What the client asks for. gzip shrinks JSON well; anything else is refused when it arrives.
ACCEPTED_ENCODING = "gzip"
_IDENTITY = frozenset({"", "identity"})
_GZIP = frozenset({"gzip", "x-gzip"})


async def read_body(response: httpx.Response, cap: int) -> bytes:
    """The decoded body of a streamed `response`, or AnswerTooLarge past `cap` bytes."""
    if response.is_stream_consumed:
        # Read and decoded already, by an in-memory transport (tests): only the cap is left.
        if len(response.content) > cap:
            raise _too_large(cap)
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in _IDENTITY:
        _refuse_declared_length(response, cap)
        decode = _identity
    elif encoding in _GZIP:
        decode = _Gunzip().decode
    else:
        raise MetricsUnavailable(
            f"Prometheus answered with content encoding {encoding!r}, "
            f"which was not asked for (only {ACCEPTED_ENCODING})"
        )
    body = bytearray()
    async for chunk in response.aiter_raw():
        # Ask the decoder for one byte more than still fits: getting it means "too large".
        body += decode(chunk, cap - len(body) + 1)
        if len(body) > cap:
            raise _too_large(cap)
    return bytes(body)


def describe_size(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def _refuse_declared_length(response: httpx.Response, cap: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise _too_large(cap)


def _identity(chunk: bytes, room: int) -> bytes:
    return chunk


class _Gunzip:
    """Incremental gzip decoding that never produces more than it is asked for."""

    def __init__(self) -> None:
        self._state = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)

    def decode(self, chunk: bytes, room: int) -> bytes:
        try:
            return self._state.decompress(chunk, room)
        except zlib.error:
            raise MalformedAnswer("Prometheus sent a corrupt gzip body") from None


def _too_large(cap: int) -> AnswerTooLarge:
    return AnswerTooLarge(
        f"Prometheus answer larger than {describe_size(cap)} (max_response_bytes); "
        "a gate query should return a single number"
    )
