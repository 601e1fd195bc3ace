"""GitHub Container Registry (ghcr.io): listing through GitHub's packages API.

GHCR has no catalog (``/v2/_catalog`` answers 404, as Harbor's adapter notes), so the
repositories of an owner come from the GitHub REST API (docs.github.com "REST API
endpoints for packages"): ``GET /orgs/{org}/packages?package_type=container`` or, for a
user, ``GET /users/{username}/packages?package_type=container``, paged with ``per_page``
(at most 100) and a ``Link`` header. A repository is ``<owner>/<package name>``. The API
and the registry both take a personal access token (``read:packages``; ``write:packages``
to push) as the password: the API as a bearer token, the registry through its token flow
with the GitHub user name. Owners come from the rule's name filter, else the connection's
``namespaces``, else the user itself. ``api_url`` (extra) is GitHub Enterprise's API.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.errors import NotFound
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.vendor_api import VendorAPI, bearer_authorization, namespaces_to_list

GITHUB_API_URL = "https://api.github.com"
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GithubApi:
    """The GitHub API at ``api_url``, listing ghcr.io's packages per owner."""

    def __init__(
        self,
        transport: Transport,
        name: str,
        *,
        api_url: str = GITHUB_API_URL,
        namespaces: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.name = name
        self._owners = tuple(namespaces) or ((username,) if username else ())
        token = bearer_authorization(password)
        self._api = VendorAPI(
            transport,
            api_url,
            endpoint=name,
            anonymous=token is None,
            authorization=lambda: token,
            headers=GITHUB_HEADERS,
        )

    def provider(self) -> Provider:
        """GHCR has no catalog: its packages are listed per owner."""
        return Provider(name="GitHub GHCR", list_repositories=self.list_repositories)

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The container packages of the owners the name filter names, else the configured."""
        owners = namespaces_to_list(
            name_pattern,
            self._owners,
            f"connection {self.name!r}: GHCR has no catalog; its packages are listed per "
            "owner: name the owners in the rule's name filter, or set the connection's "
            "login or namespaces extra",
        )
        for owner in owners:
            for package in self._packages(owner):
                yield f"{owner}/{package['name']}"

    def _packages(self, owner: str) -> Iterator[Any]:
        """An organisation's container packages, else (404) a user's."""
        params: dict[str, str | int] = {"package_type": "container", "per_page": 100}
        try:
            yield from self._api.pages(
                f"/orgs/{owner}/packages", target=f"the packages of {owner}", params=params
            )
        except NotFound:
            yield from self._api.pages(
                f"/users/{owner}/packages", target=f"the packages of {owner}", params=params
            )
