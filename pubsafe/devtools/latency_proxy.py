"""A TCP proxy that adds a fixed delay to every HTTP request: a far bucket, on loopback.

    python -m pubsafe.devtools.latency_proxy UPSTREAM_PORT DELAY_MS [LISTEN_PORT]

On loopback moto answers in ~3 ms, so a check there is bound by CPU; a real bucket
answers in 20-50 ms, and there the bound is how many requests wait one after
another. This proxy puts that wait back: each request is held ``delay`` seconds
before it is forwarded, and nothing else changes (the bytes pass as they are, each
client connection gets its own upstream connection, requests on different
connections wait at the same time, as they would on a real network).

Where a request starts: an HTTP/1.1 client sends one request, then waits for the
whole answer before it sends the next on that connection (botocore does not
pipeline). So the first bytes from the client, and the first bytes after the server
has answered, begin a request; the bytes of the same request that follow are queued
behind it and keep their order. A new connection's handshake is not delayed (a pooled
client reuses its connections). It runs as its own process (``latency_proxy()``), so
the delay is not stretched by the checker's own use of the interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from pubsafe.devtools.loopback import free_port, wait_until_listening

__all__ = ["latency_proxy", "serve"]


async def _pump_requests(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: asyncio.Event,
                         delay: float) -> None:
    """Client -> server: the first chunk of each request waits ``delay``."""
    try:
        while data := await reader.read(65536):
            if answered.is_set():  # the server spoke since the last chunk: this is a new request
                answered.clear()
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof()


async def _pump_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answered: asyncio.Event) -> None:
    """Server -> client, as it comes; each chunk marks that the next client bytes begin a request."""
    try:
        while data := await reader.read(65536):
            answered.set()
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _connection(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter, upstream_port: int,
                      delay: float) -> None:
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_writer.close()
        return
    answered = asyncio.Event()
    answered.set()  # the first bytes on a connection begin a request
    pumps = [asyncio.ensure_future(_pump_requests(client_reader, server_writer, answered, delay)),
             asyncio.ensure_future(_pump_answers(server_reader, client_writer, answered))]
    with contextlib.suppress(Exception):
        await asyncio.wait(pumps, return_when=asyncio.ALL_COMPLETED)
    for writer in (server_writer, client_writer):
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(upstream_port: int, delay: float, listen_port: int) -> None:
    server = await asyncio.start_server(lambda r, w: _connection(r, w, upstream_port, delay), "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


def serve(upstream_port: int, delay: float, listen_port: int) -> None:
    """Run the proxy in this process until it is killed."""
    asyncio.run(_serve(upstream_port, delay, listen_port))


@contextlib.contextmanager
def latency_proxy(upstream: str, delay: float = 0.020) -> Iterator[str]:
    """A proxy to ``upstream`` (``http://127.0.0.1:PORT``) adding ``delay`` seconds to
    every request, in a process of its own; yields its endpoint URL. Point
    ``AWS_ENDPOINT_URL_S3`` at it (``local_s3(latency=...)`` does)."""
    upstream_port = int(upstream.rstrip("/").rsplit(":", 1)[1])
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "pubsafe.devtools.latency_proxy", str(upstream_port),
                                str(delay * 1000), str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until_listening(process, port, "the latency proxy", 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__.split("\n\n")[1])
    serve(int(sys.argv[1]), float(sys.argv[2]) / 1000, int(sys.argv[3]) if len(sys.argv) == 4 else free_port())
    os._exit(0)
