"""How a regrep failure becomes an Airflow task outcome: fail now, or fail and retry.

One retry policy: the rule's ``retries`` apply to transient failures (5xx, rate limits,
timeouts, unreachable registries), and the client's transport does not retry on top.
Failures that a retry cannot cure (bad credentials, missing permission or content, a
misconfigured connection or rule) raise :class:`AirflowFailException`, which Airflow
never retries.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk.exceptions import AirflowFailException

from regrep.hooks import ConnectionConfigError
from regrep.registry.errors import Forbidden, ManifestInvalid, NotFound, Unauthorized

PERMANENT_ERRORS = (ConnectionConfigError, Unauthorized, Forbidden, NotFound, ManifestInvalid)


@contextmanager
def task_outcome() -> Iterator[None]:
    """Fail the task without retries on a permanent error; let transient ones propagate."""
    try:
        yield
    except PERMANENT_ERRORS as error:
        raise AirflowFailException(f"{error} (not retried)") from error
