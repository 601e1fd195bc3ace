"""Pure HTTP-level parsing of the registry client: Link pagination and error mapping."""

from __future__ import annotations

import json

import pytest

from regrep.registry.errors import (
    DigestMismatch,
    Forbidden,
    ManifestInvalid,
    NotFound,
    Operation,
    RateLimited,
    RegistryError,
    ServerError,
    Unauthorized,
    describe_error_body,
    error_for_status,
)
from regrep.registry.pagination import next_link

PAGE = "https://reg.example:5000/v2/_catalog?n=7"
OP = Operation("GET", "/v2/team/app/manifests/v1", "pull", "team/app", "team/app:v1")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            '</v2/_catalog?last=b&n=7>; rel="next"',
            "https://reg.example:5000/v2/_catalog?last=b&n=7",
        ),
        (
            "<https://reg.example:5000/v2/x/tags/list?n=7&last=t>; rel=next",
            "https://reg.example:5000/v2/x/tags/list?n=7&last=t",
        ),
        (
            '<https://evil.example/v2/_catalog?last=b>; rel="next"',
            "https://reg.example:5000/v2/_catalog?last=b",
        ),
        ('</v2/a>; rel="prev", </v2/b?last=z>; rel="next"', "https://reg.example:5000/v2/b?last=z"),
        ('</v2/a>; title="x"; REL="Next"', "https://reg.example:5000/v2/a"),
        ('</v2/a>; rel="prev"', None),
        (None, None),
        ("", None),
    ],
)
def test_next_link(header: str | None, expected: str | None) -> None:
    assert next_link(header, PAGE) == expected


def _body(*errors: dict[str, object]) -> bytes:
    return json.dumps({"errors": list(errors)}).encode()


def test_error_body_summary() -> None:
    body = _body(
        {
            "code": "DENIED",
            "message": "requested access to the resource is denied",
            "detail": [{"a": 1}],
        }
    )
    assert (
        describe_error_body(body)
        == 'DENIED: requested access to the resource is denied ([{"a": 1}])'
    )
    assert describe_error_body(b"<html>502</html>") == ""


def _error(status: int, body: bytes = b"", **kwargs: object) -> RegistryError:
    return error_for_status(status, "Reason", body, OP, endpoint="src_conn", **kwargs)  # type: ignore[arg-type]


def test_401_anonymous_vs_bad_credentials() -> None:
    anonymous = _error(401, anonymous=True)
    assert isinstance(anonymous, Unauthorized)
    assert "endpoint src_conn requires credentials" in str(anonymous)
    wrong = _error(
        401, _body({"code": "UNAUTHORIZED", "message": "authentication required"}), anonymous=False
    )
    assert isinstance(wrong, Unauthorized)
    assert (
        str(wrong)
        == "bad credentials for endpoint src_conn (UNAUTHORIZED: authentication required)"
    )
    assert (wrong.status, wrong.endpoint, wrong.repository) == (401, "src_conn", "team/app")


def test_403_and_insufficient_scope_are_permission_problems() -> None:
    push = Operation("PUT", "/v2/team/app/manifests/v1", "push", "team/app", "team/app:v1")
    forbidden = error_for_status(403, "Forbidden", b"", push, endpoint="dst", anonymous=False)
    assert isinstance(forbidden, Forbidden)
    assert str(forbidden) == "no permission to push team/app on endpoint dst"
    scoped = error_for_status(
        401, "Unauthorized", b"", push, endpoint="dst", anonymous=False, insufficient_scope=True
    )
    assert isinstance(scoped, Forbidden)


def test_404_names_repository_and_tag() -> None:
    missing = _error(
        404, _body({"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}), anonymous=True
    )
    assert isinstance(missing, NotFound)
    assert str(missing).startswith("team/app:v1 not found on endpoint src_conn")


def test_429_and_5xx_are_retried_by_airflow() -> None:
    limited = _error(429, anonymous=True, retry_after="12")
    assert isinstance(limited, RateLimited) and limited.retry_after == 12.0
    assert "retried by Airflow" in str(limited)
    server = error_for_status(
        503, "Service Unavailable", b"", OP, endpoint="src_conn", anonymous=True
    )
    assert isinstance(server, ServerError)
    assert str(server) == (
        "endpoint src_conn answered 503 Service Unavailable to GET "
        "/v2/team/app/manifests/v1: retried by Airflow"
    )


def test_400_codes() -> None:
    bad_digest = _error(
        400,
        _body({"code": "DIGEST_INVALID", "message": "provided digest did not match"}),
        anonymous=False,
    )
    assert isinstance(bad_digest, DigestMismatch)
    invalid = _error(
        400, _body({"code": "MANIFEST_BLOB_UNKNOWN", "message": "blob unknown"}), anonymous=False
    )
    assert isinstance(invalid, ManifestInvalid)
    other = _error(
        405, _body({"code": "UNSUPPORTED", "message": "deletes disabled"}), anonymous=False
    )
    assert type(other) is RegistryError and "405" in str(other)
