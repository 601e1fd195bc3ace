"""A stop shared by everything one task does: every wait and every blocking read ends on it.

A copy's blobs travel in worker threads, each blocked in a socket read, in a retry's backoff
or in the bandwidth limiter, and a big blob takes minutes. A :class:`Cancellation` is given
to the registry clients when they are built and shared with the copy engine: once cancelled,
each stream stops at its next chunk, a download or upload the clients registered
(:meth:`Cancellation.aborting`) is broken off, every wait (:meth:`Cancellation.wait`: a
request's retry, a blob's restart, a manifest's re-push, the bandwidth limiter) ends, and
:class:`CopyStopped` propagates. :mod:`regrep.tasks.termination` cancels it on SIGTERM.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


class CopyStopped(BaseException):
    """The copy was stopped (the task was terminated); nothing after the stop was pushed.

    A ``BaseException``, like Airflow's ``AirflowTaskTerminated``: no ``except Exception``
    (retries, a batch's per-resource errors, the failure record) mistakes it for a failure of
    the copy and carries on.
    """


class Cancellation:
    """A stop request, shared by the threads of one task's copies; thread-safe.

    Threads poll it (:meth:`check`, between chunks), wait on it instead of sleeping
    (:meth:`wait`), and register how to break off what polling cannot reach in time
    (:meth:`aborting`: a socket read that blocks until a slow source sends a whole chunk).
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._reason = ""
        # Reentrant: cancel() runs in a signal handler, which may interrupt this very class.
        self._lock = threading.RLock()
        self._aborts: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def stopped(self) -> bool:
        """Whether a stop was requested."""
        return self._event.is_set()

    @property
    def reason(self) -> str:
        """Why the copy was stopped, for the log; empty while it was not."""
        return self._reason

    def cancel(self, reason: str) -> bool:
        """Request the stop and break off registered work; False if it was already requested."""
        with self._lock:
            if self._event.is_set():
                return False
            self._reason = reason
            self._event.set()
            aborts = list(self._aborts.values())
        for abort in aborts:
            abort()
        return True

    def check(self) -> None:
        """Raise :class:`CopyStopped` once a stop was requested."""
        if self._event.is_set():
            raise CopyStopped(self._reason)

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if a stop is requested meanwhile (then raise)."""
        if seconds > 0:
            self._event.wait(seconds)
        self.check()

    def guard(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Pass ``chunks`` on, checking for a stop before each one."""
        self.check()
        for chunk in chunks:
            self.check()
            yield chunk

    @contextmanager
    def aborting(self, abort: Callable[[], None]) -> Iterator[None]:
        """Call ``abort`` (from the cancelling thread) if a stop comes while the body runs.

        ``abort`` must be safe to call from another thread and must not raise: it breaks off
        a blocking operation, whose thread then fails and finds the copy stopped. A stop that
        came before is not aborted here: the body's next :meth:`check` finds it.
        """
        with self._lock:
            key, self._next = self._next, self._next + 1
            self._aborts[key] = abort
        try:
            yield
        finally:
            with self._lock:
                del self._aborts[key]
