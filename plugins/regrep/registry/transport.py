"""HTTP for one registry endpoint: the session, TLS settings, redirects and THE retry policy.

Retries here are deliberately short and narrow: a few attempts with backoff for answers
that say "try again in a moment" (429 with a short Retry-After, 502, 503, 504) and for
dropped connections, and only for requests that can be replayed (idempotent methods with a
body we still hold). Anything longer-lived is left to the outer layer, Airflow's task
retries (``retries`` / ``retry_delay`` on the rule), so there is exactly one retry policy
per layer and never retries multiplied inside retries. urllib3's own retries are off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from regrep.registry.errors import ConnectionFailed, parse_retry_after

log = logging.getLogger(__name__)

_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
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
        retries: int = 3,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        pool_size: int = 16,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        # A CA bundle path replaces the system store; verify=False accepts any certificate.
        # Passed on every request: a session-level value loses to REQUESTS_CA_BUNDLE.
        self.verify: bool | str = ca_bundle if (verify and ca_bundle) else verify
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
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
        replayable = method in _IDEMPOTENT and (data is None or isinstance(data, bytes))
        attempt = 0
        while True:
            try:
                response = self._follow(method, url, headers, params, data, stream, authorization)
            except requests.exceptions.SSLError as exc:
                raise self._tls_error(url, exc) from exc
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not (replayable and attempt < self.retries):
                    raise ConnectionFailed(
                        f"cannot reach endpoint {self.endpoint} ({method} {urlsplit(url).path}): "
                        f"{_root_cause(exc)}",
                        endpoint=self.endpoint,
                    ) from exc
                delay = self.backoff * 2**attempt
                log.info("endpoint %s: %s, retrying in %.1f s", self.endpoint, exc, delay)
            else:
                if not (
                    response.status_code in _RETRY_STATUSES
                    and replayable
                    and attempt < self.retries
                ):
                    return response
                hinted = parse_retry_after(response.headers.get("Retry-After"))
                delay = hinted if hinted is not None else self.backoff * 2**attempt
                if delay > self.max_retry_after:
                    # A long wait belongs to Airflow's retry_delay, not to a blocked worker.
                    return response
                response.close()
                log.info(
                    "endpoint %s answered %d to %s %s, retrying in %.1f s",
                    self.endpoint,
                    response.status_code,
                    method,
                    urlsplit(url).path,
                    delay,
                )
            attempt += 1
            time.sleep(delay)

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

    def _tls_error(self, url: str, exc: BaseException) -> ConnectionFailed:
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
        return ConnectionFailed(message, endpoint=self.endpoint)
