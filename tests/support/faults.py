"""A fault-injecting HTTP proxy in front of a real ``docker-registry``, and crash/restart.

Everything is forwarded unchanged and streamed both ways (``Host`` included, so the
registry's ``Location`` headers point back at the proxy), except the requests a test arms
a fault for. A fault matches a method and a pattern searched in the request target (path
and query, so an upload can be picked by its ``digest``) and hits the next ``times``
matching requests:

- ``fail``: answer a status (429 with ``Retry-After``, 500, 503...) instead of forwarding;
- ``drop``: forward, then cut the connection without an answer, or after some bytes of
  the answer's body;
- ``slow``: wait before answering and/or trickle both bodies at a byte rate;
- ``on``: call a function before forwarding, or once the request has sent some bytes of
  its body (kill the registry mid-upload, move a tag mid-copy), then go on forwarding.

``refuse`` is the kill switch: while it is on, every connection is closed unanswered, as
a dead host would. With ``strict_tokens`` the proxy also plays a registry without
distribution's 60 s leeway for expired bearer tokens: a request carrying an expired JWT is
forwarded without it, so the registry challenges it. ``kill``/``revive`` crash a registry
with SIGKILL and start it again on the same port and storage.

Plain HTTP; every request is recorded in ``ProxiedRequest``s for assertions.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.support.launch import relaunch
from tests.support.registries import RunningRegistry

_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length"}
)
_PIECE = 64 * 1024


@dataclass
class Fault:
    """One armed fault; ``hits`` counts the requests it has affected so far."""

    method: str
    path: re.Pattern[str]
    times: int
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    unanswered: bool = False
    delay: float = 0.0
    rate: float | None = None
    callback: Callable[[], None] | None = None
    after_bytes: int = 0
    hits: int = 0

    def matches(self, method: str, target: str) -> bool:
        return (
            self.hits < self.times
            and self.method in ("*", method)
            and self.path.search(target) is not None
        )


@dataclass
class ProxiedRequest:
    """A request the proxy saw; ``status`` is None while unanswered, or when no whole answer
    was sent (dropped, cut short)."""

    method: str
    path: str
    status: int | None


class FaultProxy:
    """The running proxy. ``registry`` is the upstream as seen through it: hand it to the
    push helpers and use ``url`` in connections."""

    def __init__(self, upstream: RunningRegistry, *, strict_tokens: bool = False) -> None:
        self.upstream = upstream
        self.strict_tokens = strict_tokens
        self.refusing = False
        self.expired_tokens = 0
        self.seen: list[ProxiedRequest] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{host}"
        self.registry = dataclasses.replace(upstream, url=self.url, host=host)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fault-proxy", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- arming faults -------------------------------------------------------------------

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
    ) -> Fault:
        """Answer ``status`` (with an OCI error body) instead of forwarding."""
        return self._arm(Fault(method, re.compile(path), times, status, dict(headers or {})))

    def drop(self, method: str, path: str, *, after: int | None = None, times: int = 1) -> Fault:
        """Forward, then cut the connection: with no answer at all (the server acted, the
        client cannot know), or after ``after`` bytes of the answer's body."""
        fault = Fault(method, re.compile(path), times, drop_after=after, unanswered=after is None)
        return self._arm(fault)

    def slow(
        self,
        method: str,
        path: str,
        *,
        delay: float = 0.0,
        rate: float | None = None,
        times: int = 1,
    ) -> Fault:
        """Wait ``delay`` seconds before answering; send both bodies at ``rate`` bytes/s."""
        return self._arm(Fault(method, re.compile(path), times, delay=delay, rate=rate))

    def on(
        self,
        method: str,
        path: str,
        callback: Callable[[], None],
        *,
        after_bytes: int = 0,
        times: int = 1,
    ) -> Fault:
        """Call ``callback`` before forwarding, or once ``after_bytes`` of the request body
        have been forwarded (never, if the body is shorter)."""
        fault = Fault(method, re.compile(path), times, callback=callback, after_bytes=after_bytes)
        return self._arm(fault)

    def refuse(self, refusing: bool = True) -> None:
        """The kill switch: close every connection unanswered while on."""
        self.refusing = refusing

    def requests(self, method: str = "*", path: str = "") -> list[ProxiedRequest]:
        """The requests seen so far, filtered like a fault."""
        pattern = re.compile(path)
        with self._lock:
            return [r for r in self.seen if method in ("*", r.method) and pattern.search(r.path)]

    def _arm(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take(self, method: str, target: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, target):
                    fault.hits += 1
                    return fault
        return None

    def _record(self, request: ProxiedRequest) -> None:
        with self._lock:
            self.seen.append(request)

    def _count_expired(self) -> None:
        with self._lock:
            self.expired_tokens += 1


@contextmanager
def fault_proxy(upstream: RunningRegistry, *, strict_tokens: bool = False) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` in front of ``upstream`` for the ``with`` block."""
    proxy = FaultProxy(upstream, strict_tokens=strict_tokens)
    try:
        yield proxy
    finally:
        proxy.close()


def kill(registry: RunningRegistry) -> None:
    """SIGKILL the registry process: no graceful shutdown, uploads cut where they are."""
    registry.process.send_signal(signal.SIGKILL)
    registry.process.wait()


def revive(registry: RunningRegistry) -> None:
    """Start a killed registry again with its config: same port, same storage."""
    registry.process = relaunch(registry.log_path.parent, ca_cert=registry.ca_cert)


def token_expired(authorization: str, now: float) -> bool:
    """Whether a ``Bearer`` JWT's ``exp`` has passed (its signature is the registry's job)."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return False
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return isinstance(claims, dict) and float(claims.get("exp", now + 1)) <= now


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``FaultProxy.seen``."""

    @property
    def proxy(self) -> FaultProxy:
        return self.server.proxy  # type: ignore[attr-defined, no-any-return]

    def handle_one_request(self) -> None:
        if self.proxy.refusing:
            self.close_connection = True
            return
        super().handle_one_request()

    def do_GET(self) -> None:
        # Recorded on arrival and its status set before the answer goes out (send_response):
        # a test asserting right after its client got an answer finds the request there.
        self._seen = ProxiedRequest(self.command, urlsplit(self.path).path, None)
        self.proxy._record(self._seen)
        fault = self.proxy._take(self.command, self.path)
        try:
            if self._serve(fault) is None:
                self._seen.status = None  # cut short: no whole answer was sent
        except (OSError, http.client.HTTPException):
            self._seen.status = None
            self.close_connection = True  # upstream died or the client left: hang up

    def send_response(self, code: int, message: str | None = None) -> None:
        self._seen.status = code
        super().send_response(code, message)

    do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = do_GET

    def _serve(self, fault: Fault | None) -> int | None:
        """Answer the request, applying ``fault``; the status sent, None if cut short."""
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None:
            for _ in self._body(None):
                pass  # read the upload first, so the client sees the answer, not a reset
            return self._fail(fault)
        if fault is not None and fault.callback is not None and fault.after_bytes <= 0:
            fault.callback()
        upstream = http.client.HTTPConnection(urlsplit(self.proxy.upstream.url).netloc, timeout=60)
        try:
            self._send_request(upstream, fault)
            response = upstream.getresponse()
            if fault is not None and fault.unanswered:
                response.read()
                self._hang_up()
                return None
            return self._relay(response, fault)
        finally:
            upstream.close()

    def _send_request(self, upstream: http.client.HTTPConnection, fault: Fault | None) -> None:
        chunked = self.headers.get("Transfer-Encoding", "").lower() == "chunked"
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for key, value in self.headers.items():
            if key.lower() in _HOP_BY_HOP or (key.lower() == "authorization" and self._expired()):
                continue
            upstream.putheader(key, value)
        length = self.headers.get("Content-Length")
        if chunked:
            upstream.putheader("Transfer-Encoding", "chunked")
        elif length is not None:
            upstream.putheader("Content-Length", length)
        upstream.endheaders()
        for piece in self._body(fault):
            upstream.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            upstream.send(b"0\r\n\r\n")

    def _expired(self) -> bool:
        if not self.proxy.strict_tokens:
            return False
        expired = token_expired(self.headers.get("Authorization", ""), time.time())
        if expired:
            self.proxy._count_expired()
        return expired

    def _body(self, fault: Fault | None) -> Iterator[bytes]:
        """The request body in pieces (length-delimited or chunked), paced and hooked."""
        sent = 0
        hook = fault.callback if fault is not None and fault.after_bytes > 0 else None
        for piece in self._raw_body():
            if fault is not None and fault.rate:
                time.sleep(len(piece) / fault.rate)
            yield piece
            sent += len(piece)
            if hook is not None and fault is not None and sent >= fault.after_bytes:
                hook()
                hook = None

    def _raw_body(self) -> Iterator[bytes]:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                while size:
                    piece = self.rfile.read(min(size, _PIECE))
                    if not piece:
                        raise ConnectionError("client stopped mid-chunk")
                    size -= len(piece)
                    yield piece
                self.rfile.readline()
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:
            piece = self.rfile.read(min(remaining, _PIECE))
            if not piece:
                raise ConnectionError("client stopped mid-body")
            remaining -= len(piece)
            yield piece

    def _relay(self, response: http.client.HTTPResponse, fault: Fault | None) -> int | None:
        self.send_response(response.status)
        length = response.getheader("Content-Length")
        for key, value in response.getheaders():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        chunked = length is None and self.command != "HEAD" and response.status not in (204, 304)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", length or "0")
        self.end_headers()
        if self.command == "HEAD":
            return response.status
        budget = fault.drop_after if fault is not None else None
        while piece := response.read(_PIECE):
            if budget is not None and len(piece) >= budget:
                self.wfile.write(piece[:budget])
                self._hang_up()
                return None
            if budget is not None:
                budget -= len(piece)
            if fault is not None and fault.rate:
                time.sleep(len(piece) / fault.rate)
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
        return response.status

    def _fail(self, fault: Fault) -> int:
        status = int(fault.status or 500)
        code = "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE"
        body = json.dumps({"errors": [{"code": code, "message": "injected fault"}]}).encode()
        self.send_response(status)
        for key, value in {"Content-Type": "application/json", **fault.headers}.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        return status

    def _hang_up(self) -> None:
        """Close the client connection mid-answer, as a crashed server or network would."""
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)
