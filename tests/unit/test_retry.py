"""The retry policy's arithmetic and classification, without a network."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from regrep.registry.cancellation import Cancellation, CopyStopped
from regrep.registry.errors import (
    ConnectionFailed,
    DigestMismatch,
    RateLimited,
    RegistryError,
    ServerError,
    TlsFailure,
    is_transient,
    parse_retry_after,
)
from regrep.registry.retry import RetryPolicy, restart_interrupted, restartable

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
log = logging.getLogger("test.retry")


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Wed, 01 May 2024 12:00:20 GMT", 20.0),  # IMF-fixdate
        ("Wednesday, 01-May-24 12:00:05 GMT", 5.0),  # RFC 850
        ("Wed May  1 12:00:09 2024", 9.0),  # asctime, no zone: GMT
        ("Wed, 01 May 2024 11:59:00 GMT", 0.0),  # already past
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_doubles_with_jitter_and_is_bounded() -> None:
    policy = RetryPolicy(retries=5, backoff=0.5, max_backoff=2.0)
    for attempt, ceiling in enumerate([0.5, 1.0, 2.0, 2.0, 2.0]):
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(d is not None and ceiling / 2 <= d <= ceiling for d in delays), delays
        assert len(delays) > 1  # jittered: copies do not come back in lockstep
    assert policy.delay(5) is None


def test_a_short_retry_after_is_honoured_and_a_long_one_left_to_airflow() -> None:
    policy = RetryPolicy(max_retry_after=30)
    assert policy.delay(0, 12.0) == 12.0
    assert policy.delay(0, 31.0) is None
    assert policy.delay(3, 1.0) is None  # spent


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (RateLimited("throttled", endpoint="e"), True),
        (ServerError("down", status=503, endpoint="e"), True),
        (ServerError("broken", status=500, endpoint="e"), True),
        (ServerError("not implemented", status=501, endpoint="e"), False),
        (ConnectionFailed("unreachable", endpoint="e"), True),
        (TlsFailure("bad certificate", endpoint="e"), False),
        (DigestMismatch("corrupt", endpoint="e"), False),
        (RegistryError("refused", status=400, endpoint="e"), False),
    ],
)
def test_what_is_transient(error: RegistryError, transient: bool) -> None:
    assert is_transient(error) is transient
    assert restartable(error) is transient
    error.retried = True
    assert not restartable(error)  # one retry layer at a time


def test_an_interrupted_operation_restarts_within_the_policy(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = RetryPolicy(retries=2, backoff=0.01)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionFailed("stream cut", endpoint="dst")
        return "done"

    assert restart_interrupted(flaky, what="copy of blob X", log=log, policy=policy) == "done"
    assert len(calls) == 3
    assert [r.getMessage()[:48] for r in caplog.records] == [
        "copy of blob X failed: stream cut; restarting it",
        "copy of blob X failed: stream cut; restarting it",
    ]


def test_a_restart_never_repeats_what_another_layer_retried_and_stops_when_spent() -> None:
    policy = RetryPolicy(retries=2, backoff=0.01)
    attempts: list[RegistryError] = []

    def failing(error: RegistryError) -> None:
        attempts.append(error)
        raise error

    retried = ServerError("503 after the transport's retries", status=503, endpoint="dst")
    retried.retried = True
    with pytest.raises(ServerError):
        restart_interrupted(lambda: failing(retried), what="x", log=log, policy=policy)
    assert len(attempts) == 1

    attempts.clear()
    cut = ConnectionFailed("stream cut", endpoint="dst")
    with pytest.raises(ConnectionFailed) as spent:
        restart_interrupted(lambda: failing(cut), what="x", log=log, policy=policy)
    assert len(attempts) == 3  # the first try and two restarts
    assert spent.value.retried  # marked, so no outer loop adds its own


def test_a_stop_during_a_restart_pause_ends_it_at_once() -> None:
    """A blob copy waits between restarts on its task's :class:`Cancellation`: Airflow's
    stop (SIGTERM, then SIGKILL 5 s later) must not wait out a backoff of up to 30 s."""
    stop = Cancellation()
    policy = RetryPolicy(retries=3, backoff=60.0, max_backoff=60.0)
    attempts: list[float] = []

    def cut() -> None:
        attempts.append(time.monotonic())
        raise ConnectionFailed("stream cut", endpoint="dst")

    threading.Timer(0.2, stop.cancel, args=("the task was terminated",)).start()
    with pytest.raises(CopyStopped, match="the task was terminated"):
        restart_interrupted(cut, what="x", log=log, policy=policy, stop=stop)
    assert len(attempts) == 1  # not restarted once stopped
    assert time.monotonic() - attempts[0] < 5
