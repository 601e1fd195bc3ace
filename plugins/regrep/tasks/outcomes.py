"""How a regrep failure becomes an Airflow task outcome: fail now, or fail and retry.

The outer of the two retry layers (:mod:`regrep.registry.retry`): a transient failure
(5xx, rate limits, timeouts, unreachable registries) reaches this point only once the
client's own short retries within the operation are spent, and then the rule's ``retries``
apply across task attempts. Failures that a retry cannot cure (bad credentials, missing
permission or content, a misconfigured connection or rule, a certificate that does not
verify) raise :class:`AirflowFailException`, which Airflow never retries.

A work task (copy, delete) also records its failure as the XCom ``error`` when no retry
will follow, so the execution record tells a failed resource from a stopped one
(:mod:`regrep.executions.record`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.sdk import get_current_context
from airflow.sdk.exceptions import AirflowFailException

from regrep.executions.record import ERROR_KEY
from regrep.hooks import ConnectionConfigError
from regrep.registry.errors import (
    Forbidden,
    ManifestInvalid,
    NotFound,
    TlsFailure,
    Unauthorized,
)

PERMANENT_ERRORS = (
    ConnectionConfigError,
    Unauthorized,
    Forbidden,
    NotFound,
    ManifestInvalid,
    TlsFailure,
)


@contextmanager
def task_outcome() -> Iterator[None]:
    """Fail the task without retries on a permanent error; let transient ones propagate."""
    try:
        yield
    except PERMANENT_ERRORS as error:
        raise AirflowFailException(f"{error} (not retried)") from error


@contextmanager
def recorded_failure(label: str) -> Iterator[None]:
    """Record why the task fails (XCom ``error``) and whether it is final, then re-raise.

    Final means Airflow will not retry: a permanent error, or the last try. Airflow clears
    a task's XComs when its next try starts, so a stale record never outlives a retry.
    """
    try:
        yield
    except Exception as error:
        ti = get_current_context()["ti"]
        final = isinstance(error, AirflowFailException) or ti.try_number > ti.max_tries
        ti.xcom_push(ERROR_KEY, {"resource": label, "message": str(error), "final": final})
        raise
