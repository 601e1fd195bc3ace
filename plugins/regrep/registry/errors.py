"""Typed registry errors and the one mapping from an HTTP answer to them.

Operators turn these types into task outcomes (retry, fail, skip), so the status lives in
an attribute, never only inside a string. Messages are written for the person reading the
Airflow task log: they name the endpoint (the connection id) and the repository, and
never carry a password, a token or an Authorization header.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

Access = Literal["pull", "push", "delete", "list"]
"""What a request does to a repository, as the token scopes and error messages say it."""
# Answers meaning "try again in a moment": throttled, or the server (or its proxy) failed.
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

# OCI distribution-spec "Error Codes" that mean "the content is wrong", not "try again".
_MANIFEST_CODES = frozenset(
    {"MANIFEST_INVALID", "MANIFEST_UNVERIFIED", "MANIFEST_BLOB_UNKNOWN", "MANIFEST_UNKNOWN"}
)
_DETAIL_LIMIT = 300


class RegistryError(Exception):
    """Base of every failure talking to a registry.

    ``codes`` are the OCI error codes of the answer (``MANIFEST_UNKNOWN``...), empty when
    the body was not an OCI error, which tells a registry's answer from a proxy's page.
    ``retried`` is True when the request-level retry policy already ran its course.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        endpoint: str,
        repository: str | None = None,
        codes: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.endpoint = endpoint
        self.repository = repository
        self.codes = codes
        # Set once a retry layer has spent its attempts on this failure, so an outer
        # loop does not retry it again (see regrep.registry.retry).
        self.retried = False


class Unauthorized(RegistryError):
    """401: missing or wrong credentials."""


class Forbidden(RegistryError):
    """403, or a token that the auth service would not widen to the needed scope."""


class NotFound(RegistryError):
    """404: the repository, tag, manifest or blob does not exist."""


class RateLimited(RegistryError):
    """429: the registry throttles us; ``retry_after`` is its hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = 429,
        endpoint: str,
        repository: str | None = None,
        codes: frozenset[str] = frozenset(),
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, status=status, endpoint=endpoint, repository=repository, codes=codes
        )
        self.retry_after = retry_after


class ServerError(RegistryError):
    """5xx: the registry failed; transient, the Airflow task retry is the remedy."""


class DigestMismatch(RegistryError):
    """Content does not hash to the digest it was asked or announced under."""


class ConnectionFailed(RegistryError):
    """No HTTP answer at all: unreachable, timed out, or TLS verification failed.

    ``cause`` is what broke a connection that was reached or tried (refused, reset, timed
    out): None for a failure that another try would repeat (TLS, a redirect loop).
    """

    cause: BaseException | None = None


class TlsFailure(ConnectionFailed):
    """The TLS handshake or certificate verification failed: a retry fails the same way,
    so it is a configuration problem (scheme, ``verify``, ``ca_bundle``), not a transient."""


class ConnectionConfigError(ValueError):
    """An endpoint's configuration (its Airflow connection) cannot work; the message names
    the connection and what to set. Not a registry's answer: no retry can help."""


class ManifestInvalid(RegistryError):
    """A manifest the client cannot parse or the registry refused as invalid."""


@dataclass(frozen=True)
class Operation:
    """What a request was for, so an error can say it in the user's words.

    ``target`` is the thing a 404 is about: ``"repo:tag"``, ``"blob sha256:... in repo"``.
    """

    method: str
    path: str
    action: Access
    repository: str | None
    target: str


def describe_error_body(body: bytes) -> str:
    """Summarise an OCI error body ``{"errors":[{"code","message","detail"}]}``.

    Returns ``""`` when the body is not one (proxies answer HTML); the status then speaks.
    """
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return ""
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return ""
    parts = []
    for entry in errors:
        if not isinstance(entry, dict):
            continue
        text = ": ".join(str(entry[k]) for k in ("code", "message") if entry.get(k))
        detail = entry.get("detail")
        if detail:
            rendered = detail if isinstance(detail, str) else json.dumps(detail)
            text += f" ({rendered})"
        parts.append(text[:_DETAIL_LIMIT])
    return "; ".join(p for p in parts if p)


def error_codes(body: bytes) -> set[str]:
    """The ``code`` values of an OCI error body (empty if it is not one)."""
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return set()
    errors = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errors, list):
        return set()
    return {str(e["code"]) for e in errors if isinstance(e, dict) and "code" in e}


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (RFC 9110 10.2.3): delay-seconds or an
    HTTP-date (counted from ``now``, default the current time); None when unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # RFC 850 / asctime forms carry no zone: they are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_transient(error: RegistryError) -> bool:
    """Whether the same request may succeed a little later: throttling (429), a server
    failure (500, 502, 503, 504) or no answer at all, except a TLS failure."""
    if isinstance(error, ConnectionFailed):
        return not isinstance(error, TlsFailure)
    return error.status in TRANSIENT_STATUSES


def quota_exhausted(value: str | None) -> bool:
    """Whether a ``RateLimit-Remaining`` header says no request is left in the window.

    Docker Hub sends ``RateLimit-Remaining: 0;w=21600`` (remaining pulls; window in
    seconds, IETF draft "RateLimit Fields" syntax); a bare ``0`` means the same.
    """
    if not value:
        return False
    return value.split(";", 1)[0].strip() == "0"


def error_for_status(
    status: int,
    reason: str,
    body: bytes,
    operation: Operation,
    *,
    endpoint: str,
    anonymous: bool,
    insufficient_scope: bool = False,
    retry_after: str | None = None,
) -> RegistryError:
    """Build the typed error for a non-success answer to ``operation``.

    ``anonymous`` says whether we had credentials to offer, which decides between "bad
    credentials" and "requires credentials". ``insufficient_scope`` is set when a freshly
    issued token still lacked the scope (the token service granted less): with valid
    credentials that is a permission problem, so it becomes ``Forbidden``.
    """
    op = operation
    summary = describe_error_body(body)
    suffix = f" ({summary})" if summary else ""
    codes = frozenset(error_codes(body))
    kwargs: dict[str, Any] = {
        "status": status,
        "endpoint": endpoint,
        "repository": op.repository,
        "codes": codes,
    }
    # A token that still lacks the scope after renewal: authenticated, not authorised.
    denied = status == 403 or (status == 401 and insufficient_scope and not anonymous)
    if status == 401 or denied:
        return _refused_access(op, endpoint, anonymous, denied, suffix, kwargs)
    if status == 404:
        return NotFound(f"{op.target} not found on endpoint {endpoint}{suffix}", **kwargs)
    if status == 429:
        seconds = parse_retry_after(retry_after)
        hint = f", retry after {seconds:g} s" if seconds is not None else ""
        return RateLimited(
            f"endpoint {endpoint} is rate limiting {op.method} {op.path} (429{hint}){suffix}: "
            "retried by Airflow",
            retry_after=seconds,
            **kwargs,
        )
    if status >= 500:
        return ServerError(
            f"endpoint {endpoint} answered {status} {reason} to {op.method} {op.path}{suffix}: "
            "retried by Airflow",
            **kwargs,
        )
    return _refused_request(op, endpoint, status, reason, suffix, kwargs)


def _refused_access(
    op: Operation,
    endpoint: str,
    anonymous: bool,
    denied: bool,
    suffix: str,
    kwargs: dict[str, Any],
) -> RegistryError:
    """401 (missing or bad credentials) or 403 (authenticated, not allowed)."""
    subject = op.repository or op.target
    if denied:
        return Forbidden(
            f"no permission to {op.action} {subject} on endpoint {endpoint}{suffix}", **kwargs
        )
    if anonymous:
        return Unauthorized(
            f"endpoint {endpoint} requires credentials to {op.action} {subject}{suffix}",
            **kwargs,
        )
    return Unauthorized(f"bad credentials for endpoint {endpoint}{suffix}", **kwargs)


def _refused_request(
    op: Operation, endpoint: str, status: int, reason: str, suffix: str, kwargs: dict[str, Any]
) -> RegistryError:
    """Another 4xx: content the registry rejects, a method it does not allow, the rest."""
    codes = kwargs["codes"]
    if "DIGEST_INVALID" in codes:
        return DigestMismatch(
            f"endpoint {endpoint} rejected {op.target}: content does not match its digest{suffix}",
            **kwargs,
        )
    if codes & _MANIFEST_CODES:
        return ManifestInvalid(f"endpoint {endpoint} rejected {op.target}{suffix}", **kwargs)
    if status == 405:
        return RegistryError(
            f"endpoint {endpoint} does not allow {op.method} {op.path} (405, e.g. deletion "
            f"disabled){suffix}",
            **kwargs,
        )
    return RegistryError(
        f"endpoint {endpoint} answered {status} {reason} to {op.method} {op.path}{suffix}",
        **kwargs,
    )
