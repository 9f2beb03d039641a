"""A local S3-compatible server (moto's standalone server) for tests and tools.

Only on loopback, on a free port, stopped on exit. Sets the standard AWS variables
(credentials, region, ``AWS_ENDPOINT_URL_S3``) for the duration, so ``open_store
("s3://bucket/prefix")`` talks to it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

from .latency_proxy import latency_proxy
from .loopback import free_port, wait_until_listening

__all__ = ["local_s3"]

#: moto's S3 server, one request at a time. moto checks If-None-Match / If-Match and
#: then writes, unlocked (moto/s3/responses.py, put_object), so two concurrent
#: conditional PUTs can both win there, which they cannot on AWS S3. pubsafe's probes
#: find that race (a true finding about moto); served one request at a time, moto's
#: conditional writes are atomic as S3's are, and the tests judge pubsafe, not moto.
#: Connections stay threaded (keep-alive clients never wait on an idle one). The app is
#: moto's S3 service alone: moto's default app finds the service of every request by
#: listing and stat-ing its own package directory (~175 stats a request), a third of
#: the server's time per request (server CPU 3.2 -> 2.1 ms a GET on this machine).
_SERIAL_MOTO = """
import sys, threading
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import create_backend_app
app = create_backend_app("s3")
one_at_a_time = threading.Lock()
def serial(environ, start_response):
    with one_at_a_time:
        return list(app(environ, start_response))
run_simple("127.0.0.1", int(sys.argv[1]), serial, threaded=True)
"""

_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3")


@contextlib.contextmanager
def local_s3(bucket: str = "pubsafe", *, latency: float = 0.0) -> Iterator[str]:
    """Start the server, create ``bucket``, yield the endpoint URL. With ``latency``
    (seconds), the endpoint is a proxy that holds every request that long first
    (``latency_proxy``): a far bucket's round trips on loopback."""
    try:
        import moto.server  # noqa: F401
        import s3fs
    except ImportError as exc:
        raise RuntimeError("a local S3 server needs moto[server] and s3fs: pip install 'pubsafe[test]'") from exc
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-c", _SERIAL_MOTO, str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = {name: os.environ.get(name) for name in _VARS}
    try:
        wait_until_listening(server, port, "the moto server", 30)
        with contextlib.ExitStack() as stack:
            if latency:
                endpoint = stack.enter_context(latency_proxy(endpoint, latency))
            os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                              AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL_S3=endpoint)
            s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True).mkdir(bucket)
            yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
