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

from regrep.hooks.api import VendorAPI, bearer_authorization
from regrep.hooks.base import ConnectionConfigError, RegistryEndpoint, RegistryHook, parse_list
from regrep.registry import RegistryClient
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import DEFAULT_PAGE_SIZE
from regrep.registry.errors import NotFound
from regrep.rules import patterns

GITHUB_API_URL = "https://api.github.com"
GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class GithubGhcrClient(RegistryClient):
    """ghcr.io, listed per owner through the GitHub API at ``api_url``."""

    def __init__(
        self,
        url: str,
        *,
        api_url: str = GITHUB_API_URL,
        namespaces: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, username=username, password=password, **options)
        self._owners = tuple(namespaces) or ((username,) if username else ())
        token = bearer_authorization(password)
        self._api = VendorAPI(
            self._transport,
            api_url,
            endpoint=self.name,
            anonymous=token is None,
            authorization=lambda: token,
            headers=GITHUB_HEADERS,
        )

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """The container packages of the owners the name filter names, else the configured."""
        owners = patterns.fixed_namespaces(name_pattern) or self._owners
        if not owners:
            raise ConnectionConfigError(
                f"connection {self.name!r}: GHCR has no catalog; its packages are listed per "
                "owner: name the owners in the rule's name filter, or set the connection's "
                "login or namespaces extra"
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


class GithubGhcrHook(RegistryHook):
    """GitHub Container Registry (Harbor's "Github GHCR" provider)."""

    conn_type = "regrep_github_ghcr"
    hook_name = "GitHub Container Registry (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        return GithubGhcrClient(
            endpoint.url,
            api_url=str(endpoint.extra.get("api_url") or GITHUB_API_URL),
            namespaces=parse_list(endpoint.name, "namespaces", endpoint.extra.get("namespaces")),
            username=endpoint.username,
            password=endpoint.password,
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
            stop=stop,
        )
