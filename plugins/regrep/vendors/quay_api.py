"""Quay (quay.io, Red Hat Quay): listing through Quay's API, namespace by namespace.

Quay's registry speaks the distribution API with its token flow (robot accounts
``org+name`` log in like users), but its catalog only shows what a token may see, so
listing goes through the Quay API v1 (docs.quay.io "Quay API"):
``GET /api/v1/repository?namespace=<ns>``, one page of up to 100 at a time with a
``next_page`` cursor in the body. The API authenticates with an OAuth access token of a
Quay application (``api_token`` extra, sent as a bearer token); without one it lists public
repositories only. Namespaces come from the rule's name filter, else the connection's
``namespaces``, else the robot account's organisation. Quay creates repositories on push
in an existing namespace; creating organisations is left to Quay's administrators.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.errors import NotFound
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.vendor_api import VendorAPI, bearer_authorization, namespaces_to_list


def _next_page(response: requests.Response, body: Any, url: str) -> str | None:
    """This page's URL with the body's ``next_page`` cursor in its query."""
    cursor = body.get("next_page") if isinstance(body, dict) else None
    if not cursor:
        return None
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | {"next_page": str(cursor)}
    return urlunsplit(parts._replace(query=urlencode(query)))


class QuayApi:
    """Quay's API next to the registry at ``url``; ``api_token`` is an OAuth token for it."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        name: str,
        *,
        namespaces: Sequence[str] = (),
        api_token: str | None = None,
        username: str | None = None,
    ) -> None:
        self.name = name
        robot_org = username.split("+", 1)[0] if username else None
        self._namespaces = tuple(namespaces) or ((robot_org,) if robot_org else ())
        token = bearer_authorization(api_token)
        self._api = VendorAPI(
            transport,
            f"{url}/api/v1",
            endpoint=name,
            anonymous=token is None,
            authorization=lambda: token,
        )

    def provider(self) -> Provider:
        """Quay lists one namespace at a time, through its API."""
        return Provider(name="Quay", list_repositories=self.list_repositories)

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The repositories of the namespaces the name filter names, else the configured ones."""
        namespaces = namespaces_to_list(
            name_pattern,
            self._namespaces,
            f"connection {self.name!r}: Quay lists repositories one namespace at a time: "
            "name the namespaces in the rule's name filter, or set the connection's "
            "namespaces extra",
        )
        for namespace in namespaces:
            try:
                for repository in self._api.pages(
                    "/repository",
                    target=f"the repositories of namespace {namespace}",
                    params={"namespace": namespace},
                    items=lambda body: body.get("repositories"),
                    next_page=_next_page,
                ):
                    yield f"{repository['namespace']}/{repository['name']}"
            except NotFound:
                continue
