"""Stopping a task promptly when Airflow terminates it (a user's stop, a timeout).

How Airflow 3.3 ends a running task: its supervisor learns at the next heartbeat that the
task instance is no longer running (the UI's *Mark as failed*, the REST PATCH of the run's
state) and sends the task process SIGTERM, then SIGKILL 5 s later. The Task SDK's own
SIGTERM handler only calls the operator's ``on_kill`` and returns: the task carries on.
:func:`stop_on_termination` cancels the task's :class:`~regrep.registry.cancellation.Cancellation`
instead, and raises :class:`~regrep.registry.cancellation.CopyStopped` in the main thread,
so nothing more is pushed or tagged at the destination.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from regrep.registry.cancellation import Cancellation, CopyStopped


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
