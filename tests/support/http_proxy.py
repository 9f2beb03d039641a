"""A reverse proxy on loopback that changes what reaches a storage emulator.

It drops the request headers and query parameters it is told to (a gateway or an
S3-compatible server that ignores conditional writes looks like this to a client), and
can answer chosen requests itself with a status (throttling, refused writes). It
speaks HTTP/1.1 so that a client sending ``Expect: 100-continue`` is told to go on.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
from collections.abc import Callable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["Rules", "proxy_to"]

Answer = tuple[int, bytes, dict[str, str]]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "expect", "te", "upgrade"})


class Rules:
    """What the proxy changes: ``strip_headers`` and ``strip_query`` (lower-case
    names) are removed from every request; ``answer(method, path)`` may return
    (status, body, headers) to answer a request without forwarding it."""

    def __init__(self, *, strip_headers: frozenset[str] = frozenset(), strip_query: frozenset[str] = frozenset(),
                 answer: Callable[[str, str], Answer | None] = lambda method, path: None) -> None:
        self.strip_headers, self.strip_query, self.answer = strip_headers, strip_query, answer
        self.stripped = 0  #: requests that lost a header or parameter on the way


def _handler(upstream: str, rules: Rules) -> type[http.server.BaseHTTPRequestHandler]:
    class Forward(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self._body()
            answer = rules.answer(self.command, self.path)
            if answer is not None:
                status, payload, headers = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            parts = urlsplit(self.path)
            query = parse_qsl(parts.query, keep_blank_values=True)
            kept = [(k, v) for k, v in query if k.lower() not in rules.strip_query]
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP | rules.strip_headers}
            if len(kept) < len(query) or any(k.lower() in rules.strip_headers for k in self.headers):
                rules.stripped += 1
            path = urlunsplit(("", "", parts.path, urlencode(kept), "")) if len(kept) < len(query) else self.path
            connection = http.client.HTTPConnection(urlsplit(upstream).netloc, timeout=30)
            try:
                connection.request(self.command, path, body=body, headers=headers)
                response = connection.getresponse()
                data = response.read()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                # a HEAD answer has no body but must carry the object's length
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            finally:
                connection.close()

        def _body(self) -> bytes:
            if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _forward

        def log_message(self, *args: object) -> None:
            pass

    return Forward


class _Server(http.server.ThreadingHTTPServer):
    # the default backlog of 5 drops the SYNs of 16 racing writers, which then wait a
    # second or more to retry: a race would be slowed down, not run
    request_queue_size = 128
    daemon_threads = True


@contextlib.contextmanager
def proxy_to(upstream: str, rules: Rules) -> Iterator[str]:
    """A proxy to ``upstream`` (``http://host:port``) applying ``rules``; yields its URL."""
    server = _Server(("127.0.0.1", 0), _handler(upstream, rules))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
