"""Small real HTTP servers on loopback for the client's no-hang tests: they misbehave at the
socket level, where httpx.MockTransport cannot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

Respond = Callable[[asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(respond: Respond) -> AsyncIterator[tuple[str, list[float]]]:
    """Serve `respond` to every request on a free loopback port; yield the base URL and the
    loop times at which requests arrived. Every connection is closed on exit."""
    arrivals: list[float] = []
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            arrivals.append(asyncio.get_running_loop().time())
            await respond(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client hung up: what a deadline is supposed to do
        except asyncio.CancelledError:
            # Stopped on exit. Ending normally spares asyncio's streams callback, which
            # would log a cancelled handler as an error.
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", arrivals
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


def dripping(size: int, every: float) -> Respond:
    """A 200 whose `size`-byte body arrives one byte per `every` seconds."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n" % size)
        for _ in range(size):
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(every)

    return respond


def sending(size: int, chunk: int = 64 * 1024) -> Respond:
    """A 200 with a `size`-byte JSON-looking body, sent as fast as the client reads."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n" % size)
        block = b" " * chunk
        for _ in range(size // chunk):
            writer.write(block)
            await writer.drain()

    return respond
