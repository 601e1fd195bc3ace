"""A slow road to a registry: a TCP relay that sends the registry's answers at a fixed rate.

Tests that must catch a copy in the middle (stopping an execution) point the source
connection at the relay instead of the registry: every byte the registry sends back (blob
downloads above all) trickles through at ``bytes_per_second`` per connection, while requests
go through at full speed. It is plain TCP, so HTTP, keep-alive and streaming are untouched.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from tests.support.registries import RunningRegistry

CHUNK = 16 * 1024


@contextmanager
def throttled(registry: RunningRegistry, bytes_per_second: int) -> Iterator[str]:
    """Yield the ``http://127.0.0.1:<port>`` URL of a relay to the (plain HTTP) registry."""
    host, port = registry.host.rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()
    open_sockets: list[socket.socket] = []

    def pump(source: socket.socket, target: socket.socket, rate: int | None) -> None:
        with suppress(OSError):
            while chunk := source.recv(CHUNK):
                target.sendall(chunk)
                if rate is not None:
                    time.sleep(len(chunk) / rate)
        for sock in (source, target):
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def accept() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection((host, int(port)))
            open_sockets.extend((client, upstream))
            for args in ((client, upstream, None), (upstream, client, bytes_per_second)):
                threading.Thread(target=pump, args=args, daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        listener.close()
        for sock in open_sockets:
            with suppress(OSError):
                sock.close()
