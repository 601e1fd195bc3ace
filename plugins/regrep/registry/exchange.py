"""One registry request as the client sends it: credentials, one re-authentication, typed errors.

Every operation of :class:`~regrep.registry.client.RegistryClient` goes through
:meth:`Exchange.send`: the ``Authorization`` the request's token scopes need (on the
registry's own origin only), a second try when a 401's challenge teaches the authenticator
something new, and a typed error (:mod:`regrep.registry.errors`) for any answer the caller
did not expect. Retries of transient failures are the transport's (one layer below).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, TypedDict
from urllib.parse import urlsplit

import requests

from regrep.registry.auth import Authenticator, parse_challenges
from regrep.registry.cancellation import Cancellation
from regrep.registry.credentials import CredentialSource
from regrep.registry.errors import ConnectionFailed, Operation, RegistryError, error_for_status
from regrep.registry.pagination import next_link
from regrep.registry.retry import DEFAULT_POLICY, RetryPolicy
from regrep.registry.transport import Transport

_ERROR_BODY_LIMIT = 64 * 1024


class Settings(TypedDict, total=False):
    """How to reach an endpoint: the keyword arguments of :meth:`Exchange.connect`."""

    name: str | None
    username: str | None
    password: str | None
    verify: bool
    ca_bundle: str | None
    timeout: float
    credentials: CredentialSource | None
    policy: RetryPolicy
    stop: Cancellation | None


def origin(url: str) -> tuple[str, str]:
    """(scheme, host:port) of ``url``: the unit credentials are bound to."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class Exchange:
    """Sends the requests of the registry at ``url`` (named ``name`` in messages)."""

    def __init__(self, url: str, name: str, transport: Transport, auth: Authenticator) -> None:
        self.url, self.name = url, name
        self.transport, self.auth = transport, auth

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        name: str | None = None,
        username: str | None = None,
        password: str | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
        credentials: CredentialSource | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        stop: Cancellation | None = None,
    ) -> Exchange:
        """The exchange of the endpoint at ``url``: its transport and its authenticator."""
        url = url.strip().rstrip("/")
        url = url if "://" in url else f"https://{url}"
        name = name or urlsplit(url).netloc
        transport = Transport(
            endpoint=name,
            verify=verify,
            ca_bundle=ca_bundle,
            timeout=timeout,
            policy=policy,
            stop=stop,
        )
        auth = Authenticator(
            transport, endpoint=name, username=username, password=password, credentials=credentials
        )
        return cls(url, name, transport, auth)

    def send(
        self,
        op: Operation,
        scopes: Sequence[str],
        *,
        url: str | None = None,
        ok: Collection[int] = (200,),
        headers: Mapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send ``op`` with the auth ``scopes`` need; the response if its status is in ``ok``.

        Callers probing with HEAD put 404 in ``ok``: "not there" is an answer, not an
        error. Any other status raises the typed error.
        """
        target = url or f"{self.url}{op.path}"
        request = {"headers": headers, "params": params, "data": data, "stream": stream}
        response = self._authenticated(op, scopes, target, request)
        if response.status_code in ok:
            return response
        raise self._refusal(op, response, stream=stream, data=data)

    def paginate(
        self,
        op: Operation,
        scopes: Sequence[str],
        key: str,
        page_size: int | None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """The ``key`` list of each JSON page, following ``Link`` headers on our origin."""
        url: str | None = f"{self.url}{op.path}" + (f"?n={page_size}" if page_size else "")
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            with self.send(op, scopes, url=url, headers=headers) as response:
                items = _listed(response, key)
                if items is None:
                    raise RegistryError(
                        f"endpoint {self.name} answered {op.path} with a body that is not "
                        f"a JSON listing of {key}",
                        status=response.status_code,
                        endpoint=self.name,
                        repository=op.repository,
                    )
                url = next_link(response.headers.get("Link"), url)
            yield from items

    def _authenticated(
        self, op: Operation, scopes: Sequence[str], target: str, request: dict[str, Any]
    ) -> requests.Response:
        """The answer, sent again once if its 401 taught the authenticator something.

        A body that cannot be replayed (a streamed upload) gets no second try: its auth
        was settled by the POST that opened the upload.
        """
        own_origin = origin(target) == origin(self.url)
        authorization = self.auth.authorization(scopes, op) if own_origin else None
        response = self._once(op, target, request, authorization)
        data = request["data"]
        if (
            response.status_code == 401
            and own_origin
            and (data is None or isinstance(data, bytes))
            and self.auth.challenged(
                response.headers.get("WWW-Authenticate"), scopes, authorization
            )
        ):
            response.close()
            response = self._once(op, target, request, self.auth.authorization(scopes, op))
        return response

    def _once(
        self, op: Operation, target: str, request: dict[str, Any], authorization: str | None
    ) -> requests.Response:
        try:
            return self.transport.request(op.method, target, authorization=authorization, **request)
        except ConnectionFailed as exc:
            exc.repository = op.repository  # the transport knows URLs, not repositories
            raise

    def _refusal(
        self, op: Operation, response: requests.Response, *, stream: bool, data: Any
    ) -> RegistryError:
        """The typed error for ``response``, which the caller did not expect."""
        with response:
            # Error bodies are small JSON; cap the read in case a proxy streams a page.
            body = (
                next(response.iter_content(_ERROR_BODY_LIMIT), b"") if stream else response.content
            )
        challenge = response.headers.get("WWW-Authenticate")
        errors = {c.error for c in parse_challenges(challenge or "")}
        error = error_for_status(
            response.status_code,
            response.reason,
            body,
            op,
            endpoint=self.name,
            anonymous=self.auth.anonymous,
            insufficient_scope="insufficient_scope" in errors,
            retry_after=response.headers.get("Retry-After"),
        )
        # The transport retried what it could replay; only the rest may be restarted whole.
        error.retried = self.transport.replays(op.method, data)
        return error


def _listed(response: requests.Response, key: str) -> list[Any] | None:
    """The ``key`` list of a JSON listing page; None when the body is not one."""
    try:
        items = response.json().get(key) or []
    except (ValueError, AttributeError):
        return None
    return items if isinstance(items, list) else None
