"""HTTP for one registry endpoint: the session, TLS settings, redirects, and the
request-level use of the retry policy (:mod:`regrep.registry.retry` explains both layers).

A request is retried here only when it can be replayed (an idempotent method whose body we
still hold): on 429, 500, 502, 503, 504 and on dropped or timed-out connections, with the
policy's backoff or the server's ``Retry-After``. Never on a 429 whose
``RateLimit-Remaining`` says the quota is spent (Docker Hub's pull limit refills over
hours), nor when the server asks for a longer wait than a worker should block: those go to
Airflow's task retry. urllib3's own retries are off, so there is one policy, not two.

Redirects of GET and HEAD (blob storage, CDNs) are requests' own: it drops the
``Authorization`` header when a redirect leaves the host, port or scheme, so a token never
leaves the registry it was issued for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests

from regrep.registry.cancellation import Cancellation
from regrep.registry.errors import (
    TRANSIENT_STATUSES,
    ConnectionFailed,
    TlsFailure,
    parse_retry_after,
    quota_exhausted,
)
from regrep.registry.inflight import NotingAdapter, break_off
from regrep.registry.retry import DEFAULT_POLICY, RetryPolicy, retry

log = logging.getLogger(__name__)

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_FOLLOWED = frozenset({"GET", "HEAD"})
_MAX_REDIRECTS = 10


class _Transient(Exception):
    """An answer worth asking again (429, 5xx); the last one is returned when spent."""

    def __init__(self, response: requests.Response, hinted: float | None) -> None:
        super().__init__(response.status_code)
        self.response = response
        self.hinted = hinted


def _dropped(failure: Exception) -> bool:
    """Whether ``failure`` is a connection that broke or timed out: worth another try
    (a TLS failure or a redirect loop fails the same way again)."""
    return isinstance(failure, ConnectionFailed) and failure.cause is not None


def _cause_text(failure: Exception) -> str:
    """``TypeName: message`` of what broke the connection, for the retry's log line."""
    cause = getattr(failure, "cause", None) or failure
    return f"{type(cause).__name__}: {cause}"


def _root_cause(exc: BaseException) -> BaseException:
    """Dig through requests/urllib3 wrappers to the error that explains the failure."""
    seen = exc
    for _ in range(10):
        inner = getattr(seen, "reason", None)
        if not isinstance(inner, BaseException) and seen.args:
            inner = seen.args[0]
        if not isinstance(inner, BaseException):
            break
        seen = inner
    return seen


class Transport:
    """A requests session bound to one endpoint's TLS settings, retry policy and stop."""

    def __init__(
        self,
        *,
        endpoint: str,
        verify: bool = True,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy = DEFAULT_POLICY,
        stop: Cancellation | None = None,
        pool_size: int = 16,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.policy = policy
        # Every wait of this endpoint's retries ends when the task that owns it is stopped.
        self.stop = stop or Cancellation()
        # A CA bundle path replaces the system store; verify=False accepts any certificate.
        # Passed on every request: a session-level value loses to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = ca_bundle if (verify and ca_bundle) else verify
        self.session = requests.Session()
        self.session.max_redirects = _MAX_REDIRECTS
        adapter = NotingAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if not verify:
            log.warning("TLS certificate verification is disabled for endpoint %s", endpoint)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    @staticmethod
    def break_off(thread_id: int) -> None:
        """Break off the request thread ``thread_id`` is sending (a stopped upload)."""
        break_off(thread_id)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        stream: bool = False,
        authorization: str | None = None,
    ) -> requests.Response:
        """Send one request, retrying transient failures if it can be replayed.

        ``authorization`` is the Authorization header for ``url``'s origin only: requests
        drops it on a redirect to another host. The last response is returned even when it
        is an error; turning it into a typed error is the caller's job (it knows the
        repository).
        """
        sent = {**(headers or {}), **({"Authorization": authorization} if authorization else {})}
        replayable = self.replays(method, data)
        path = urlsplit(url).path  # never the query: upload URLs carry state there
        try:
            return retry(
                lambda: self._answer(method, url, sent, params, data, stream, replayable),
                retry_in=lambda failure, attempt: self._retry_in(failure, attempt, replayable),
                report=lambda failure, attempt, wait: self._report(
                    failure, attempt, wait, f"{method} {path}"
                ),
                stop=self.stop,
            )
        except _Transient as spent:
            return spent.response
        except ConnectionFailed as failed:
            failed.retried = replayable and _dropped(failed)
            raise

    def _answer(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Any,
        data: Any,
        stream: bool,
        replayable: bool,
    ) -> requests.Response:
        """One answer; :class:`_Transient` for one worth asking again."""
        response = self._send(method, url, headers, params, data, stream)
        if response.status_code not in TRANSIENT_STATUSES or not replayable:
            return response
        hinted = parse_retry_after(response.headers.get("Retry-After"))
        if hinted is None and quota_exhausted(response.headers.get("RateLimit-Remaining")):
            return response  # the quota refills over hours: Airflow's retry_delay
        raise _Transient(response, hinted)

    def _retry_in(self, failure: Exception, attempt: int, replayable: bool) -> float | None:
        if not replayable:
            return None
        if isinstance(failure, _Transient):
            return self.policy.delay(attempt, failure.hinted)
        return self.policy.delay(attempt) if _dropped(failure) else None

    def _report(self, failure: Exception, attempt: int, wait: float, request: str) -> None:
        if isinstance(failure, _Transient):
            failure.response.close()
            hinted = failure.hinted
            what = f"answered {failure.response.status_code}" + (
                f" (Retry-After {hinted:g} s)" if hinted is not None else ""
            )
        else:
            what = f"failed ({_cause_text(failure)})"
        log.warning(
            "endpoint %s: %s %s; retry %d of %d in %.1f s",
            self.endpoint,
            request,
            what,
            attempt,
            self.policy.retries,
            wait,
        )

    @staticmethod
    def replays(method: str, data: Any) -> bool:
        """Whether a request can be sent again as it was: an idempotent method with no body
        or a body held in memory (a streamed upload is consumed by the first attempt)."""
        return method in _IDEMPOTENT and (data is None or isinstance(data, bytes))

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Any,
        data: Any,
        stream: bool,
    ) -> requests.Response:
        """One request; a failure to get an answer becomes :class:`ConnectionFailed`."""
        try:
            return self.session.request(
                method,
                url,
                headers=headers,
                params=params,
                data=data,
                stream=stream,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=method in _FOLLOWED,
            )
        except requests.exceptions.SSLError as exc:
            raise self._tls_error(url, exc) from exc
        except requests.TooManyRedirects as exc:
            raise ConnectionFailed(
                f"endpoint {self.endpoint} redirected {method} more than {_MAX_REDIRECTS} times",
                endpoint=self.endpoint,
            ) from exc
        except (requests.ConnectionError, requests.Timeout) as exc:
            cause = _root_cause(exc)
            failed = ConnectionFailed(
                f"cannot reach endpoint {self.endpoint} ({method} {urlsplit(url).path}): {cause}",
                endpoint=self.endpoint,
            )
            failed.cause = cause
            raise failed from exc

    def _tls_error(self, url: str, exc: BaseException) -> TlsFailure:
        cause = _root_cause(exc)
        host = urlsplit(url).netloc
        if "CERTIFICATE" in str(cause).upper():
            message = (
                f"TLS certificate problem with endpoint {self.endpoint} ({host}): {cause}. "
                "If the registry uses a self-signed or private-CA certificate, set ca_bundle "
                "to the CA's PEM file, or verify=False to skip verification."
            )
        else:
            message = (
                f"TLS handshake with endpoint {self.endpoint} ({host}) failed: {cause}. "
                "Check the URL scheme (http:// vs https://) and the certificate settings "
                "(verify, ca_bundle)."
            )
        return TlsFailure(message, endpoint=self.endpoint)
