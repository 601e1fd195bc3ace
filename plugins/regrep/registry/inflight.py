"""Which connection each thread's request is on, so that another thread can break it off.

A stopped copy (:mod:`regrep.cancellation`) must end its blob uploads at once. An upload
blocked *sending* (a stalled destination that stops reading, a slow link with the socket's
buffers full) sits in ``sendall`` for a whole chunk, until the socket times out: no check
between chunks reaches it. Shutting the socket down ends that call at once. urllib3 picks
the connection inside its pool, so the pools made here note it for the thread sending the
request, from the moment it is taken until the answer's headers arrive, and
:func:`break_off` finds it by thread. A body still streaming in afterwards (a download) is
broken off through its response instead (:meth:`~regrep.registry.blobstream.BlobStream.abort`).
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# thread ident -> the connection its request is being sent on. One request at a time per
# thread; dict operations are atomic, so no lock.
_sending: dict[int, Any] = {}


def shut_down(connection: object) -> None:
    """Shut down ``connection``'s socket, best effort, so a blocked read or send fails now.

    ``socket.socket``'s own shutdown: an SSLSocket's would also drop its TLS state under the
    thread using it. The connection is then discarded by its pool, never reused.
    """
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def break_off(thread_id: int) -> None:
    """Break off the request thread ``thread_id`` is sending, if it is sending one."""
    connection = _sending.get(thread_id)
    if connection is not None:
        shut_down(connection)


class _Noting:
    """Pool mixin: note the connection of each request for its thread while it is sent."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        thread_id = threading.get_ident()
        _sending[thread_id] = conn
        try:
            return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]
        finally:
            _sending.pop(thread_id, None)


class _NotingHTTPPool(_Noting, HTTPConnectionPool):
    pass


class _NotingHTTPSPool(_Noting, HTTPSConnectionPool):
    pass


class NotingAdapter(HTTPAdapter):
    """requests' adapter over pools that note each thread's connection (see module doc)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _NotingHTTPPool,
            "https": _NotingHTTPSPool,
        }
