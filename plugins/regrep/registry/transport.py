"""HTTP for one registry endpoint: the session, TLS settings, redirects, and the
request-level half of the retry policy (:mod:`regrep.registry.retry` explains both layers).

A request is retried here only when it can be replayed (an idempotent method whose body we
still hold): on 429, 500, 502, 503, 504 and on dropped or timed-out connections, with the
policy's backoff or the server's ``Retry-After``. Never on a 429 whose
``RateLimit-Remaining`` says the quota is spent (Docker Hub's pull limit refills over
hours), nor when the server asks for a longer wait than a worker should block: those go to
Airflow's task retry. urllib3's own retries are off, so there is one policy, not two.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from regrep.registry.errors import (
    TRANSIENT_STATUSES,
    ConnectionFailed,
    TlsFailure,
    parse_retry_after,
    quota_exhausted,
)
from regrep.registry.inflight import NotingAdapter
from regrep.registry.retry import DEFAULT_POLICY, RetryPolicy

log = logging.getLogger(__name__)

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10


def origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) of ``url``: the unit credentials are bound to."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


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
    """A requests session bound to one endpoint's TLS settings and retry policy."""

    def __init__(
        self,
        *,
        endpoint: str,
        verify: bool = True,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy = DEFAULT_POLICY,
        pool_size: int = 16,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.policy = policy
        # How a retry waits; a stoppable task replaces it (RegistryClient.pause_retries_with).
        self.pause: Callable[[float], None] = time.sleep
        # A CA bundle path replaces the system store; verify=False accepts any certificate.
        # Passed on every request: a session-level value loses to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = ca_bundle if (verify and ca_bundle) else verify
        self.session = requests.Session()
        adapter = NotingAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if not verify:
            log.warning("TLS certificate verification is disabled for endpoint %s", endpoint)

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

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

        ``authorization`` is the Authorization header for ``url``'s origin only: redirects
        to another host (blob storage, CDNs) go without it, so a token never leaves the
        registry it was issued for. The last response is returned even when it is an error;
        turning it into a typed error is the caller's job (it knows the repository).
        """
        replayable = self.replays(method, data)
        path = urlsplit(url).path  # never the query: upload URLs carry state there
        attempt = 0
        while True:
            try:
                response = self._follow(method, url, headers, params, data, stream, authorization)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(url, exc) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                cause = _root_cause(exc)
                delay = self.policy.delay(attempt) if replayable else None
                if delay is None:
                    failed = ConnectionFailed(
                        f"cannot reach endpoint {self.endpoint} ({method} {path}): {cause}",
                        endpoint=self.endpoint,
                    )
                    failed.retried = replayable
                    raise failed from exc
                what = f"failed ({type(cause).__name__}: {cause})"
            else:
                if response.status_code not in TRANSIENT_STATUSES or not replayable:
                    return response
                hinted = parse_retry_after(response.headers.get("Retry-After"))
                if hinted is None and quota_exhausted(response.headers.get("RateLimit-Remaining")):
                    return response  # the quota refills over hours: Airflow's retry_delay
                delay = self.policy.delay(attempt, hinted)
                if delay is None:
                    return response
                response.close()
                what = f"answered {response.status_code}" + (
                    f" (Retry-After {hinted:g} s)" if hinted is not None else ""
                )
            attempt += 1
            log.warning(
                "endpoint %s: %s %s %s; retry %d of %d in %.1f s",
                self.endpoint,
                method,
                path,
                what,
                attempt,
                self.policy.retries,
                delay,
            )
            self.pause(delay)

    @staticmethod
    def replays(method: str, data: Any) -> bool:
        """Whether a request can be sent again as it was: an idempotent method with no body
        or a body held in memory (a streamed upload is consumed by the first attempt)."""
        return method in _IDEMPOTENT and (data is None or isinstance(data, bytes))

    def _follow(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        params: Any,
        data: Any,
        stream: bool,
        authorization: str | None,
    ) -> requests.Response:
        """Send, following redirects of GET/HEAD ourselves so auth stays on its origin."""
        home = origin(url)
        for _ in range(_MAX_REDIRECTS + 1):
            sent = dict(headers or {})
            if authorization and origin(url) == home:
                sent["Authorization"] = authorization
            response = self.session.request(
                method,
                url,
                headers=sent,
                params=params,
                data=data,
                stream=stream,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
            location = response.headers.get("Location")
            if not (response.status_code in _REDIRECTS and method in ("GET", "HEAD") and location):
                return response
            response.close()
            url, params = urljoin(response.url, location), None
        raise ConnectionFailed(
            f"endpoint {self.endpoint} redirected {method} more than {_MAX_REDIRECTS} times",
            endpoint=self.endpoint,
        )

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
