"""A proxy in front of a real registry that cuts chosen requests in the middle of an upload.

Every request is read whole, forwarded with ``http.client`` and its answer relayed, and
recorded (method, path, ``Content-Range``, ``Content-Length``, ``Transfer-Encoding``,
status). A :meth:`UploadCutter.cut` makes the next matching request (method, path, and
optionally where its ``Content-Range`` starts) end with the client's
connection closed unanswered, as a crashed load balancer or a broken network would, after
forwarding ``forward`` bytes of its body to the registry: None forwards nothing (the
registry never hears of the request), a number sends the headers and that much of the body,
ends the body short and waits for the registry's answer (distribution: 499, "client
disconnected") before hanging up on the client. With ``late``, that part reaches the registry
only once it has answered the client's next request, before the client hears that answer: a
proxy flushing late, so the client's upload status query still leaves the part out. Bodies
are held in memory: test blobs are small.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.registries import RunningRegistry

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})


@dataclass(frozen=True)
class Seen:
    """A request the proxy received; ``status`` None when it was cut."""

    method: str
    path: str
    content_range: str | None
    content_length: str | None
    transfer_encoding: str | None
    status: int | None


@dataclass
class _Cut:
    method: str
    path: re.Pattern[str]
    range_start: int | None
    forward: int | None
    times: int
    late: bool = False

    def matches(self, method: str, path: str, content_range: str | None) -> bool:
        start = (content_range or "").partition("-")[0]
        return (
            self.times > 0
            and self.method == method
            and self.path.search(path) is not None
            and (self.range_start is None or start == str(self.range_start))
        )


class UploadCutter:
    """The running proxy; ``registry`` is the upstream as seen through it."""

    def __init__(self, upstream: RunningRegistry) -> None:
        self.upstream = upstream
        self.seen: list[Seen] = []
        self._cuts: list[_Cut] = []
        self._late: list[Callable[[], None]] = []  # parts to forward after the next answer
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.cutter = self  # type: ignore[attr-defined]
        host = f"127.0.0.1:{self._server.server_address[1]}"
        self.registry = replace(upstream, url=f"http://{host}", host=host)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def cut(
        self,
        method: str,
        path: str,
        *,
        range_start: int | None = None,
        forward: int | None = None,
        times: int = 1,
        late: bool = False,
    ) -> None:
        """Cut the next ``times`` requests matching ``method``, the ``path`` regex and, if
        given, a ``Content-Range`` starting at ``range_start`` (``late``: see the module)."""
        with self._lock:
            self._cuts.append(_Cut(method, re.compile(path), range_start, forward, times, late))

    def requests(self, method: str, path: str = "") -> list[Seen]:
        """The requests seen so far with ``method`` whose path matches ``path``."""
        pattern = re.compile(path)
        with self._lock:
            return [s for s in self.seen if s.method == method and pattern.search(s.path)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _take(self, method: str, path: str, content_range: str | None) -> _Cut | None:
        with self._lock:
            for cut in self._cuts:
                if cut.matches(method, path, content_range):
                    cut.times -= 1
                    return cut
        return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _hold(self, forward: Callable[[], None]) -> None:
        with self._lock:
            self._late.append(forward)

    def _flush(self) -> None:
        """Forward the parts held back (see ``late``)."""
        with self._lock:
            held, self._late = self._late, []
        for forward in held:
            forward()


@contextmanager
def upload_cutter(upstream: RunningRegistry) -> Iterator[UploadCutter]:
    """An :class:`UploadCutter` in front of ``upstream`` for the ``with`` block."""
    cutter = UploadCutter(upstream)
    try:
        yield cutter
    finally:
        cutter.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``UploadCutter.seen``."""

    @property
    def cutter(self) -> UploadCutter:
        return self.server.cutter  # type: ignore[attr-defined, no-any-return]

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        cut = self.cutter._take(self.command, path, self.headers.get("Content-Range"))
        if cut is None:
            self._forward(path, body)
            return
        if cut.forward is not None and cut.late:
            self.cutter._hold(partial(self._forward_part, body[: cut.forward], len(body)))
        elif cut.forward is not None:
            self._forward_part(body[: cut.forward], len(body))
        self._record(path, None)
        self.close_connection = True
        with suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts: list[bytes] = []
            while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _upstream_headers(self, length: int) -> dict[str, str]:
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        if length or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(length)
        return headers

    def _record(self, path: str, status: int | None) -> None:
        """Record the request before the client hears back, so a test sees it at once."""
        headers = self.headers
        self.cutter._record(
            Seen(
                self.command,
                path,
                headers.get("Content-Range"),
                headers.get("Content-Length"),
                headers.get("Transfer-Encoding"),
                status,
            )
        )

    def _forward(self, path: str, body: bytes) -> None:
        connection = http.client.HTTPConnection(self.cutter.upstream.host, timeout=60)
        try:
            headers = self._upstream_headers(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            self.cutter._flush()
            self._record(path, response.status)
            self.send_response(response.status)
            for key, value in response.getheaders():
                if key.lower() not in _HOP_BY_HOP:
                    self.send_header(key, value)
            length = response.getheader("Content-Length", "0")
            self.send_header(
                "Content-Length", length if self.command == "HEAD" else str(len(answer))
            )
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(answer)
        finally:
            connection.close()

    def _forward_part(self, part: bytes, announced: int) -> None:
        """Send the request with ``announced`` bytes of body promised, ``part`` of them sent,
        then end it and wait for the registry's answer to the short body.

        Hanging up at once let the client's next request (its upload status query) reach
        distribution while it was still writing the part: the status then left the part out,
        and the client resumed into a session the part invalidated right after.
        """
        connection = http.client.HTTPConnection(self.cutter.upstream.host, timeout=60)
        headers = self._upstream_headers(announced)
        try:
            connection.putrequest(
                self.command, self.path, skip_host=True, skip_accept_encoding=True
            )
            for key, value in headers.items():
                connection.putheader(key, value)
            connection.endheaders()
            connection.send(part)
            assert connection.sock is not None
            connection.sock.shutdown(socket.SHUT_WR)
            with suppress(OSError, http.client.HTTPException):
                connection.getresponse().read()
        finally:
            connection.close()
