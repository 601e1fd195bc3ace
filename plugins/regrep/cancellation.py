"""Stopping a copy task promptly when Airflow terminates it (a user's stop, a timeout).

How Airflow 3.3 ends a running task: its supervisor learns at the next heartbeat that the
task instance is no longer running (the UI's *Mark as failed*, the REST PATCH of the run's
state) and sends the task process SIGTERM, then SIGKILL 5 s later if it is still there. The
Task SDK's own SIGTERM handler only calls the operator's ``on_kill`` and returns: the task
carries on. A copy's blobs travel in worker threads, each blocked in a socket read or in the
bandwidth limiter, and a big blob takes minutes, so the task was always SIGKILLed, with its
uploads cut anywhere.

A :class:`Cancellation`, shared by one task's blob copies (:class:`~regrep.blobcopy.Transfer`),
makes the stop prompt and clean: once cancelled, each stream stops at its next chunk, a
download blocked on a slow source and an upload blocked on a destination that stopped
reading are broken off (:meth:`Cancellation.aborting`), the bandwidth limiter, a request's
retry (a ``Retry-After`` of up to 30 s) and a blob's restart stop waiting, no new blob
starts, and the upload sessions are cancelled.
:func:`stop_on_termination` cancels it on SIGTERM and raises :class:`CopyStopped` in the
task's main thread, wherever it is, so nothing more is pushed or tagged at the destination.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType


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


@contextmanager
def stop_on_termination(
    stop: Cancellation, log: logging.Logger, *, what: str = "the copy"
) -> Iterator[None]:
    """While the body runs, SIGTERM cancels ``stop`` and raises :class:`CopyStopped` here.

    The signal reaches the task's main thread (Python runs handlers there), which waits for
    the copy's worker threads or sends a manifest: raising there stops it from pushing or
    tagging anything more, and cancelling ``stop`` ends the workers' streams, so the task
    exits well within the supervisor's 5 s before SIGKILL. The handler that was installed
    (the Task SDK's, which calls ``on_kill``) runs too, and is restored afterwards. A
    second SIGTERM only finds the stop under way. Off the main thread (where handlers cannot
    be installed) the body runs without one. When the body ends stopped, the log says so,
    naming ``what`` was being copied.
    """
    if threading.current_thread() is not threading.main_thread():
        with _logged_stop(log, what):
            yield
        return
    pid = os.getpid()
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != pid:  # a forked child inherited the handler: not our copy
            return
        reason = f"the task was terminated ({signal.Signals(signum).name})"
        first = not stop.stopped and stop.cancel(reason)
        if first:
            log.warning("stopping the copy: %s; abandoning the blobs in flight", reason)
        if callable(previous):
            previous(signum, frame)
        if first:
            raise CopyStopped(reason)

    signal.signal(signal.SIGTERM, on_term)
    try:
        with _logged_stop(log, what):
            yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


@contextmanager
def _logged_stop(log: logging.Logger, what: str) -> Iterator[None]:
    """Say in the task log that ``what`` stopped, and that nothing more was pushed."""
    try:
        yield
    except CopyStopped as stopped:
        log.warning(
            "stopped copying %s: %s; the blobs in flight were abandoned and their uploads "
            "cancelled, nothing more was pushed or tagged",
            what,
            stopped,
        )
        raise
