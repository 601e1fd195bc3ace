"""Transient registry failures are retried inside the operation, bounded, and logged.

The copy engine runs between two real registries, each behind a fault proxy that answers
429 (with ``Retry-After`` in seconds or as an HTTP date), 500, 502, 503 or 504, cuts
connections, or answers slowly. Retries stay within one operation and a few seconds; when
they are spent the typed error propagates for Airflow's task retry to take over.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from regrep.engine.resource_copy import CopyResult, copy_resource
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ConnectionFailed, RateLimited, ServerError
from tests.integration.reliability.conftest import FaultyPair
from tests.integration.reliability.integrity import complete_digest, tagged_images
from tests.support.images import PushedImage, push_image

MANIFEST = r"^/v2/apps/web/manifests/"
UPLOADS = r"/blobs/uploads/"
MIB = 1 << 20

log = logging.getLogger("regrep.test.copy")


def replicate(pair: FaultyPair, *, timeout: float = 60.0) -> CopyResult:
    with (
        RegistryClient.connect(pair.source.url, name="src", timeout=timeout) as source,
        RegistryClient.connect(pair.destination.url, name="dst", timeout=timeout) as destination,
    ):
        return copy_resource(source, destination, "apps/web", "1.0", "apps/web", log=log)


def seed(pair: FaultyPair, layer_sizes: tuple[int, ...] = (4096, 2 * MIB)) -> PushedImage:
    return push_image(pair.source.upstream, "apps/web", "1.0", layer_sizes=layer_sizes)


def retry_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def a_second_from_now() -> str:
    """A ``Retry-After`` HTTP-date (whole seconds, so up to one second away)."""
    return format_datetime(datetime.now(UTC) + timedelta(seconds=1), usegmt=True)


@pytest.mark.parametrize(
    ("side", "method", "status", "headers", "said"),
    [
        pytest.param(
            "source",
            "GET",
            429,
            {"Retry-After": "1"},
            r"answered 429 \(Retry-After 1 s\)",
            id="src-429-retry-after-seconds",
        ),
        pytest.param("source", "GET", 503, {}, "answered 503", id="src-503"),
        pytest.param("destination", "HEAD", 502, {}, "answered 502", id="dst-HEAD-502"),
        pytest.param("destination", "PUT", 500, {}, "answered 500", id="dst-PUT-500"),
        pytest.param("destination", "PUT", 504, {}, "answered 504", id="dst-PUT-504"),
        pytest.param(
            "destination",
            "PUT",
            429,
            "http-date",
            r"answered 429 \(Retry-After [01](\.\d+)? s\)",
            id="dst-429-retry-after-date",
        ),
    ],
)
def test_transient_answers_are_retried_with_backoff_and_logged(
    faulty_pair: FaultyPair,
    caplog: pytest.LogCaptureFixture,
    side: str,
    method: str,
    status: int,
    headers: dict[str, str] | str,
    said: str,
) -> None:
    image = seed(faulty_pair)
    proxy = getattr(faulty_pair, side)
    sent = {"Retry-After": a_second_from_now()} if headers == "http-date" else headers
    assert isinstance(sent, dict)
    proxy.fail(method, MANIFEST, status, times=2, headers=sent)
    caplog.set_level(logging.WARNING)

    result = replicate(faulty_pair)

    assert result.status == "copied"
    assert complete_digest(faulty_pair.destination.upstream, "apps/web", "1.0") == image.digest
    answered = [r.status for r in proxy.requests(method, MANIFEST)]
    assert answered[:2] == [status, status]
    assert answered[2] in (200, 201, 404)  # the real answer: a HEAD finds nothing yet
    endpoint = "src" if side == "source" else "dst"
    lines = retry_lines(caplog)
    for attempt in (1, 2):
        pattern = (
            rf"endpoint {endpoint}: {method} /v2/apps/web/manifests/1\.0 {said}; "
            rf"retry {attempt} of 3 in \d+\.\d s"
        )
        assert any(re.fullmatch(pattern, line) for line in lines), lines


def test_retries_are_bounded_then_the_typed_error_propagates(
    faulty_pair: FaultyPair, caplog: pytest.LogCaptureFixture
) -> None:
    seed(faulty_pair)
    faulty_pair.destination.fail("PUT", MANIFEST, 503, times=100)
    caplog.set_level(logging.WARNING)
    started = time.monotonic()

    with pytest.raises(ServerError) as failure:
        replicate(faulty_pair)

    assert time.monotonic() - started < 10  # backoff 0.5, 1, 2 s with jitter: bounded
    assert failure.value.status == 503
    assert "endpoint dst answered 503" in str(failure.value)
    assert "retried by Airflow" in str(failure.value)
    assert len(faulty_pair.destination.requests("PUT", MANIFEST)) == 4  # 1 + 3 retries
    assert len(retry_lines(caplog)) == 3
    assert tagged_images(faulty_pair.destination.upstream) == {}  # the manifest goes last


def test_a_retry_after_longer_than_a_worker_should_wait_goes_to_airflow(
    faulty_pair: FaultyPair,
) -> None:
    seed(faulty_pair)
    faulty_pair.source.fail("GET", MANIFEST, 429, times=100, headers={"Retry-After": "120"})

    with pytest.raises(RateLimited) as failure:
        replicate(faulty_pair)

    assert failure.value.retry_after == 120
    assert str(failure.value).startswith(
        "endpoint src is rate limiting GET /v2/apps/web/manifests/1.0 (429, retry after 120 s)"
    )
    assert len(faulty_pair.source.requests("GET", MANIFEST)) == 1


def test_a_download_cut_mid_blob_restarts_that_blob(
    faulty_pair: FaultyPair, caplog: pytest.LogCaptureFixture
) -> None:
    image = seed(faulty_pair, layer_sizes=(4 * MIB,))
    digest = _layer_digest(image)
    faulty_pair.source.drop("GET", rf"/blobs/{digest}", after=MIB)
    caplog.set_level(logging.WARNING)

    result = replicate(faulty_pair)

    assert result.status == "copied"
    assert complete_digest(faulty_pair.destination.upstream, "apps/web", "1.0") == image.digest
    assert [r.status for r in faulty_pair.source.requests("GET", rf"/blobs/{digest}")] == [
        None,
        200,
    ]
    assert any(
        re.match(
            rf"copy of blob {digest} failed: endpoint src dropped the download of blob "
            rf"{digest} from apps/web after \d+ bytes.*; restarting it in \d+\.\d s "
            r"\(restart 1 of 3\)",
            line,
        )
        for line in retry_lines(caplog)
    ), retry_lines(caplog)


@pytest.mark.parametrize("fault", ["500 to the upload", "connection cut after the upload"])
def test_an_upload_that_cannot_be_replayed_is_restarted_whole(
    faulty_pair: FaultyPair, caplog: pytest.LogCaptureFixture, fault: str
) -> None:
    image = seed(faulty_pair, layer_sizes=(3 * MIB,))
    uploads = faulty_pair.destination
    if fault.startswith("500"):
        uploads.fail("PUT", UPLOADS, 500)
    else:
        uploads.drop("PUT", UPLOADS)
    caplog.set_level(logging.WARNING)

    result = replicate(faulty_pair)

    assert result.status == "copied"
    assert complete_digest(uploads.upstream, "apps/web", "1.0") == image.digest
    lines = retry_lines(caplog)
    restart = re.compile(r"copy of blob (\S+) failed: .*\(restart 1 of 3\)$")
    [digest] = [match.group(1) for line in lines if (match := restart.match(line))]
    # The restart streams the blob from the source again, into a new upload.
    assert len(faulty_pair.source.requests("GET", rf"/blobs/{digest}")) == 2
    assert [r.status for r in uploads.requests("POST", UPLOADS)].count(202) == 3
    assert not any(re.search(rf"PUT {UPLOADS}\S*; retry", line) for line in lines), lines
    assert not any("_state=" in line for line in lines)  # upload state stays out of the log


def test_a_slow_answer_times_out_and_is_retried(
    faulty_pair: FaultyPair, caplog: pytest.LogCaptureFixture
) -> None:
    image = seed(faulty_pair)
    faulty_pair.source.slow("GET", MANIFEST, delay=2.5)
    caplog.set_level(logging.WARNING)

    result = replicate(faulty_pair, timeout=1.0)

    assert result.status == "copied"
    assert complete_digest(faulty_pair.destination.upstream, "apps/web", "1.0") == image.digest
    assert any(
        re.fullmatch(
            r"endpoint src: GET /v2/apps/web/manifests/1\.0 failed \(ReadTimeoutError: .*"
            r"timed out.*\); retry 1 of 3 in \d+\.\d s",
            line,
        )
        for line in retry_lines(caplog)
    ), retry_lines(caplog)


def test_an_unreachable_endpoint_fails_after_bounded_retries(faulty_pair: FaultyPair) -> None:
    seed(faulty_pair)
    faulty_pair.destination.refuse()
    started = time.monotonic()

    with pytest.raises(ConnectionFailed, match=r"cannot reach endpoint dst \(HEAD /v2/apps/web/"):
        replicate(faulty_pair)

    assert time.monotonic() - started < 10
    assert tagged_images(faulty_pair.destination.upstream) == {}


def _layer_digest(image: PushedImage) -> str:
    """The digest of the image's largest blob (its big layer)."""
    return max(image.blobs, key=lambda digest: image.blobs[digest])
