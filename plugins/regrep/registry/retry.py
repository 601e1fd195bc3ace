"""THE retry policy, and the one loop that applies it.

regrep retries in two deliberate layers, each failure handled by exactly one of them:

1. **Within one operation** (this module): :func:`retry` runs an operation again after a
   failure its caller judges retryable, waiting the policy's backoff (or the server's
   ``Retry-After``) on the client's :class:`~regrep.registry.cancellation.Cancellation`,
   so a stop ends every wait. Its callers: the transport replays a request it still holds
   (429, 500, 502, 503, 504, dropped or timed-out connections); a chunked upload resumes
   an interrupted chunk; the copy engine restarts a whole blob whose stream broke
   (:func:`restart_interrupted`) and pushes a manifest again after distribution's
   link-rewrite race. A failure the transport has already retried is marked
   (:attr:`RegistryError.retried`) and never restarted on top.
2. **Across task attempts**: when the policy is spent, the typed error propagates and the
   task fails; Airflow retries it after the rule's ``retry_delay_minutes``
   (``retries`` times). Waits longer than a worker should block (a ``Retry-After`` over
   :attr:`RetryPolicy.max_retry_after`, a spent Docker Hub quota) go straight there.

Every retry is logged at WARNING by its caller (method and path, never the query, which
may carry upload state), so a task log says what happened.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from regrep.registry.cancellation import Cancellation
from regrep.registry.errors import RateLimited, RegistryError, is_transient

T = TypeVar("T")

RetryIn = Callable[[Exception, int], float | None]
"""``(failure, attempts so far) -> seconds to wait before trying again``; None: give up."""
Report = Callable[[Exception, int, float], None]
"""``(failure, attempt about to start, seconds waited first)``: the caller's log line."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait before trying an operation again.

    Backoff doubles from ``backoff`` up to ``max_backoff`` seconds, with "equal jitter"
    (half fixed, half random) so that the copies of a run hitting one throttled registry
    do not come back in lockstep. The defaults bound the waits of one operation to about
    4 s without a ``Retry-After``, and to ``retries * max_retry_after`` with one.
    """

    retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry ``attempt + 1`` (0-based), or None not to retry here.

        A ``retry_after`` hint is honoured as given when it is short enough; a longer one
        means the wait belongs to Airflow's task retry, not to a blocked worker.
        """
        if attempt >= self.retries:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        ceiling = min(self.max_backoff, self.backoff * 2.0**attempt)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


DEFAULT_POLICY = RetryPolicy()


def retry(
    operation: Callable[[], T], *, retry_in: RetryIn, report: Report, stop: Cancellation
) -> T:
    """Run ``operation`` until it succeeds or ``retry_in`` gives up on its failure.

    The one retry loop of the first layer (see the module's docstring): waits happen on
    ``stop``, which raises :class:`~regrep.registry.cancellation.CopyStopped` once the
    task is stopped instead of sitting a backoff out.
    """
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as failure:
            wait = retry_in(failure, attempt)
            if wait is None:
                raise
            attempt += 1
            report(failure, attempt, wait)
            stop.wait(wait)


def restartable(error: RegistryError) -> bool:
    """Whether running the failed operation again from the start may succeed.

    Only transient failures that no request-level retry has handled yet (a broken blob
    download or upload stream, an upload refused with 5xx or 429), and an upload session
    the registry invalidated meanwhile (``BLOB_UPLOAD_INVALID``, e.g. a resumed chunk after
    distribution kept part of the interrupted one): a new session can take the blob.
    """
    if error.retried:
        return False
    return is_transient(error) or UPLOAD_INVALID in error.codes


UPLOAD_INVALID = "BLOB_UPLOAD_INVALID"
"""The OCI error code of an upload session the registry will no longer complete."""


def restart_interrupted(
    operation: Callable[[], T],
    *,
    what: str,
    log: logging.Logger,
    policy: RetryPolicy = DEFAULT_POLICY,
    stop: Cancellation | None = None,
) -> T:
    """Run ``operation``, running it again from the start after a :func:`restartable` error.

    ``operation`` must be safe to repeat as a whole (a blob copy: its upload session is
    cancelled on failure and a new one opened). ``what`` names it in the log. When the
    policy is spent the last error propagates, marked as retried.
    """

    def retry_in(failure: Exception, attempt: int) -> float | None:
        if not isinstance(failure, RegistryError) or not restartable(failure):
            return None
        hint = failure.retry_after if isinstance(failure, RateLimited) else None
        wait = policy.delay(attempt, hint)
        if wait is None:
            failure.retried = True
        return wait

    def report(failure: Exception, attempt: int, wait: float) -> None:
        log.warning(
            "%s failed: %s; restarting it in %.1f s (restart %d of %d)",
            what,
            failure,
            wait,
            attempt,
            policy.retries,
        )

    return retry(operation, retry_in=retry_in, report=report, stop=stop or Cancellation())
