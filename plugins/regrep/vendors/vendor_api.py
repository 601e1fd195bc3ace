"""The JSON HTTP APIs that registry vendors keep next to their registries.

Harbor's ``/api/v2.0``, Docker Hub's hub API, quay's ``/api/v1``, GitHub's and GitLab's
REST APIs list what a registry's catalog cannot or will not list, and create namespaces;
cloud APIs (ECR...) also hand out registry credentials. :class:`VendorAPI` speaks them over
the registry client's own :class:`~regrep.registry.transport.Transport` (TLS settings, the
one retry policy, an ``Authorization`` never attached to another host) and turns refusals
into the same typed errors, so an operator treats a refused listing like a refused pull.
What differs per vendor is passed in: the ``Authorization`` value, a request signer, and
how to read its error bodies (by default as a registry's, which Harbor's API matches).

Vendors page their listings three ways, all walked by :meth:`VendorAPI.pages`: an RFC 8288
``Link: <...>; rel="next"`` header (Harbor, GitHub, GitLab), a ``next`` URL in the body
(Docker Hub) or a cursor in the body (quay). Only pages below the API's own base URL are
followed, so a listing cannot steer a credential to another host.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from regrep.registry.errors import (
    Access,
    ConnectionConfigError,
    ConnectionFailed,
    Operation,
    RegistryError,
    error_for_status,
)
from regrep.registry.pagination import next_link
from regrep.registry.transport import Transport
from regrep.rules import patterns

Signer = Callable[[str, str, Mapping[str, str], bytes], Mapping[str, str]]
"""``(method, url, headers, body) -> headers to add``: a vendor's request signature."""

ErrorReader = Callable[[requests.Response, Operation], RegistryError]
"""Turns a refused request into the typed error, reading the vendor's error body."""

NextPage = Callable[[requests.Response, Any, str], str | None]
"""Where the next page is: ``(response, decoded body, this page's URL) -> URL or None``."""


def namespaces_to_list(name_pattern: str, configured: Sequence[str], refusal: str) -> Sequence[str]:
    """The namespaces a rule's name filter names, else the connection's configured ones.

    For APIs that list one namespace at a time (Docker Hub, quay, GHCR); ``refusal`` is the
    :class:`~regrep.registry.errors.ConnectionConfigError` message when neither names any.
    """
    namespaces = patterns.fixed_namespaces(name_pattern) or configured
    if not namespaces:
        raise ConnectionConfigError(refusal)
    return namespaces


def bearer_authorization(token: str | None) -> str | None:
    """The ``Authorization`` value of an API token (GitHub, GitLab, quay OAuth tokens)."""
    return f"Bearer {token}" if token else None


def link_header_next(response: requests.Response, body: Any, url: str) -> str | None:
    """The page a ``Link`` header names as ``rel="next"``."""
    return next_link(response.headers.get("Link"), url)


def body_next(response: requests.Response, body: Any, url: str) -> str | None:
    """The page a ``next`` URL in the body names (Docker Hub), on our origin."""
    target = body.get("next") if isinstance(body, dict) else None
    return next_link(f'<{target}>; rel="next"', url) if isinstance(target, str) else None


class VendorAPI:
    """One vendor API at ``base_url`` (scheme, host and path prefix), for endpoint ``endpoint``.

    ``authorization`` is called for every request (a vendor token may have been renewed);
    ``anonymous`` says whether there are credentials at all, which decides between "bad
    credentials" and "requires credentials" in messages. ``sign`` adds a signature to each
    request; ``errors`` reads refusals (by default like a registry's answers); ``headers``
    go with every request (GitHub's API version, an ``Accept`` other than JSON's).
    """

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        endpoint: str,
        anonymous: bool,
        authorization: Callable[[], str | None] = lambda: None,
        sign: Signer | None = None,
        errors: ErrorReader | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Accept": "application/json", **(headers or {})}
        self.endpoint = endpoint
        self._transport = transport
        self._anonymous = anonymous
        self._authorization = authorization
        self._sign = sign
        self._errors = errors or self._registry_error

    def request(
        self,
        method: str,
        path: str,
        *,
        target: str,
        action: Access = "list",
        repository: str | None = None,
        params: Mapping[str, str | int] | None = None,
        document: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        ok: Collection[int] = (200,),
    ) -> requests.Response:
        """Send one request to ``path`` (below the base URL) and return the answer.

        ``document`` is sent as JSON, ``form`` URL-encoded (OAuth token endpoints).
        ``target`` names what the request is about in error messages ("the projects"); a
        status outside ``ok`` raises the typed error. The query is encoded here, once, so a
        signature covers exactly the bytes sent.
        """
        url = self.base_url + path + (f"?{urlencode(params)}" if params else "")
        body = json.dumps(document).encode() if document is not None else b""
        sent = {**self._headers, **(headers or {})}
        if document is not None:
            sent.setdefault("Content-Type", "application/json")
        if form is not None:
            body = urlencode(form).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self._sign is not None:
            sent.update(self._sign(method, url, sent, body))
        try:
            response = self._transport.request(
                method, url, headers=sent, data=body or None, authorization=self._authorization()
            )
        except ConnectionFailed as exc:
            exc.repository = repository
            raise
        if response.status_code in ok:
            return response
        operation = Operation(method, urlsplit(url).path, action, repository, target)
        with response:
            raise self._errors(response, operation)

    def get_json(
        self, path: str, *, target: str, params: Mapping[str, str | int] | None = None
    ) -> Any:
        """GET ``path`` and decode its JSON body."""
        with self.request("GET", path, target=target, params=params) as response:
            return self._decode(response, target)

    def pages(
        self,
        path: str,
        *,
        target: str,
        params: Mapping[str, str | int] | None = None,
        items: Callable[[Any], Any] = lambda body: body,
        next_page: NextPage = link_header_next,
    ) -> Iterator[Any]:
        """Every item of a paginated listing at ``path``, page after page.

        ``items`` picks the list out of a page's body (the body itself by default). A page
        seen twice ends the listing, so a server repeating its last page cannot loop us.
        """
        page: str | None = path
        query = params
        seen: set[str] = set()
        while page is not None and page not in seen:
            seen.add(page)
            with self.request("GET", page, target=target, params=query) as response:
                body = self._decode(response, target)
                url = response.url
            listed = items(body)
            if not isinstance(listed, list):
                raise RegistryError(
                    f"endpoint {self.endpoint} answered the listing of {target} with a body "
                    "that is not a JSON list of them",
                    status=response.status_code,
                    endpoint=self.endpoint,
                )
            yield from listed
            page, query = self._below(next_page(response, body, url)), None

    def _below(self, url: str | None) -> str | None:
        """``url`` as a path below the base URL; None for none, or one elsewhere."""
        if url is None or not url.startswith(self.base_url + "/"):
            return None
        return url[len(self.base_url) :]

    def _decode(self, response: requests.Response, target: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise RegistryError(
                f"endpoint {self.endpoint} answered the request for {target} with a body "
                "that is not JSON",
                status=response.status_code,
                endpoint=self.endpoint,
            ) from None

    def _registry_error(self, response: requests.Response, operation: Operation) -> RegistryError:
        return error_for_status(
            response.status_code,
            response.reason,
            response.content,
            operation,
            endpoint=self.endpoint,
            anonymous=self._anonymous,
            retry_after=response.headers.get("Retry-After"),
        )
