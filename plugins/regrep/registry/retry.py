"""THE retry policy of one registry operation, and the restart of a whole blob stream.

regrep retries in two deliberate layers, each failure handled by exactly one of them:

1. **Within one operation** (this module): a request that can be replayed (an idempotent
   method whose body we still hold) is retried by :class:`~regrep.registry.transport.Transport`
   a few times with exponential backoff and jitter, honouring ``Retry-After``, on 429,
   500, 502, 503, 504 and dropped or timed-out connections. An upload cannot be replayed
   (its body is a stream already consumed): when it fails that way, or a download breaks
   mid-body, the copy engine restarts the whole blob (new GET, new upload session) under
   the same policy with :func:`restart_interrupted`. A failure the transport has already
   retried is marked (:attr:`RegistryError.retried`) and never restarted on top.
2. **Across task attempts**: when the policy is spent, the typed error propagates and the
   task fails; Airflow retries it after the rule's ``retry_delay_minutes``
   (``retries`` times). Waits longer than a worker should block (a ``Retry-After`` over
   :attr:`RetryPolicy.max_retry_after`, a spent Docker Hub quota) go straight there.

Every retry and restart is logged at WARNING, with the method and path (never the query,
which may carry upload state) and the wait, so a task log says what happened.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from regrep.registry.errors import RateLimited, RegistryError, is_transient

T = TypeVar("T")


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


def restartable(error: RegistryError) -> bool:
    """Whether running the failed operation again from the start may succeed.

    Only transient failures that no request-level retry has handled yet: a broken blob
    download or upload stream, or an upload the registry refused with 5xx or 429.
    """
    return is_transient(error) and not error.retried


def restart_interrupted(
    operation: Callable[[], T],
    *,
    what: str,
    log: logging.Logger,
    policy: RetryPolicy = DEFAULT_POLICY,
    pause: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``operation``, running it again from the start after a :func:`restartable` error.

    ``operation`` must be safe to repeat as a whole (a blob copy: its upload session is
    cancelled on failure and a new one opened). ``what`` names it in the log. When the
    policy is spent the last error propagates, marked as retried. ``pause`` waits between
    attempts: a stoppable copy passes :meth:`~regrep.cancellation.Cancellation.wait`, so a
    stop does not wait out a backoff (up to 30 s after a ``Retry-After``).
    """
    attempt = 0
    while True:
        try:
            return operation()
        except RegistryError as error:
            if not restartable(error):
                raise
            hint = error.retry_after if isinstance(error, RateLimited) else None
            wait = policy.delay(attempt, hint)
            if wait is None:
                error.retried = True
                raise
            attempt += 1
            log.warning(
                "%s failed: %s; restarting it in %.1f s (restart %d of %d)",
                what,
                error,
                wait,
                attempt,
                policy.retries,
            )
            pause(wait)
