"""Polling for something a real process does in its own time (a run, a log line, a note)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    what: str, check: Callable[[], T | None], timeout: float = 120, every: float = 0.5
) -> T:
    """The first value ``check`` returns that is not None, polled ``every`` seconds; fails
    the test naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)
    return result
