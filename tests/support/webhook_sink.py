"""A local HTTP server that receives webhooks, as a Harbor webhook receiver would.

It answers every POST with ``statuses`` in turn (then 200) and keeps what it received, so a
test can read the payloads and count the tries. Loopback only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    """One request the sink received."""

    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class WebhookSink:
    """The running sink: its ``url`` and what it ``received`` (every try, in order)."""

    url: str
    statuses: list[int]
    received: list[Received] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        """Wait until ``count`` requests arrived; return them (fewer if time ran out)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)


@contextmanager
def webhook_sink(statuses: Sequence[int] = ()) -> Iterator[WebhookSink]:
    """Run a sink on a free loopback port for the ``with`` block."""
    sink: WebhookSink | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert sink is not None
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            with sink.arrived:
                sink.received.append(Received(self.path, dict(self.headers), body))
                status = sink.statuses.pop(0) if sink.statuses else 200
                sink.arrived.notify_all()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what arrived instead."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink = WebhookSink(f"http://127.0.0.1:{server.server_address[1]}", list(statuses))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
