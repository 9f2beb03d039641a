"""Servers the tests start on loopback (moto, Azurite, fake-gcs-server, the latency
proxy): a free port, and waiting until the server listens on it or says why it died."""

from __future__ import annotations

import socket
import subprocess
import time

__all__ = ["free_port", "wait_until_listening"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_listening(process: subprocess.Popen[bytes], port: int, name: str, seconds: float = 30.0) -> None:
    """Return once ``port`` accepts a connection; RuntimeError (with what the server
    wrote on stderr, if it was captured) if the process exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if process.poll() is not None:
                output = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"{name} exited: {output[-2000:]}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start on loopback within {seconds:g} s") from None
            time.sleep(0.05)
