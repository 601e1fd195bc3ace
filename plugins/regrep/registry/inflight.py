"""Which connection each thread is sending a request on, so that a stop can break it off.

A stopped copy must end its blob uploads at once. An upload blocked *sending* (a stalled
destination that stops reading, a slow link with the socket's buffers full) sits in
``sendall`` for a whole chunk, until the socket times out: no check between chunks reaches
it. Shutting the socket down ends that call at once. urllib3 picks the connection inside its
pool, so the connections made here (urllib3's documented ``ConnectionCls`` of a pool) note
themselves for the thread sending the request, from ``request()`` until ``getresponse()``
has the answer's headers, and :func:`break_off` finds the connection by thread. A body still
streaming in afterwards (a download) is broken off through its response instead
(:meth:`~regrep.registry.blobstream.BlobStream.abort`).
"""

from __future__ import annotations

import socket
import threading
from contextlib import suppress
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
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
    """Connection mixin: noted for its thread from sending a request to its answer."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        _sending[threading.get_ident()] = self
        try:
            super().request(*args, **kwargs)  # type: ignore[misc]
        except BaseException:
            _sending.pop(threading.get_ident(), None)
            raise

    def getresponse(self) -> Any:
        try:
            return super().getresponse()  # type: ignore[misc]
        finally:
            _sending.pop(threading.get_ident(), None)


class _NotingHTTPConnection(_Noting, HTTPConnection):
    pass


class _NotingHTTPSConnection(_Noting, HTTPSConnection):
    pass


class _NotingHTTPPool(HTTPConnectionPool):
    ConnectionCls = _NotingHTTPConnection


class _NotingHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _NotingHTTPSConnection


class NotingAdapter(HTTPAdapter):
    """requests' adapter whose pools make noting connections (see the module's docstring)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _NotingHTTPPool,
            "https": _NotingHTTPSPool,
        }
