"""GitLab's container registry: listing through the GitLab API, per project.

GitLab's registry has no catalog for its users, and issues its JWTs from the GitLab
instance (``/jwt/auth``, the realm of its challenge), which the shared token flow
handles. Repositories and tags come from the GitLab REST API v4 (docs.gitlab.com
"Container registry API"): ``GET /projects/:id/registry/repositories`` and
``GET /projects/:id/registry/repositories/:repository_id/tags``, paged with ``per_page``
(at most 100) and a ``Link`` header. The projects are the connection's ``projects`` (paths
or ids), else every project the token's user is a member of (``GET /projects?membership=
true``). The API takes the access token given as the password as a bearer token. Its base
is the ``api_url`` extra, else the instance issuing the registry's tokens, as Harbor's
adapter finds it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from regrep.registry.auth import parse_challenges
from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.errors import ConnectionConfigError, NotFound
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.vendor_api import VendorAPI, bearer_authorization

API_PAGE_SIZE = 100


class GitlabApi:
    """The GitLab API of ``api_url`` (found from the registry at ``url`` if None)."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        name: str,
        *,
        api_url: str | None = None,
        projects: Sequence[str] = (),
        password: str | None = None,
    ) -> None:
        self._transport, self.url, self.name = transport, url, name
        self._api_url = api_url
        self._token = bearer_authorization(password)
        self._projects = tuple(projects)
        self._lock = threading.Lock()
        self._api: VendorAPI | None = None
        self._ids: dict[str, tuple[int, int]] = {}  # repository path -> (project, repository)

    def provider(self) -> Provider:
        """GitLab lists registry repositories per project, through its API."""
        return Provider(
            name="GitLab", list_repositories=self.list_repositories, list_tags=self.list_tags
        )

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The registry repositories of the projects, each under its full path."""
        api = self._gitlab()
        projects: Iterator[Any] | Sequence[str] = self._projects or (
            project["id"]
            for project in api.pages(
                "/projects",
                target="the projects of the token's user",
                params={"membership": "true", "simple": "true", "per_page": API_PAGE_SIZE},
            )
        )
        for project in projects:
            try:
                for repository in api.pages(
                    f"/projects/{quote(str(project), safe='')}/registry/repositories",
                    target=f"the registry repositories of project {project}",
                    params={"per_page": API_PAGE_SIZE},
                ):
                    path = str(repository["path"]).lower()
                    with self._lock:
                        self._ids[path] = (repository["project_id"], repository["id"])
                    yield path
            except NotFound:
                continue  # a project without a registry

    def list_tags(self, registry: RegistryClient, repository: str) -> Iterator[str]:
        """The tags from the GitLab API for a listed repository, else from the registry."""
        with self._lock:
            ids = self._ids.get(repository)
        if ids is None:  # not listed by this client (a copy task): the registry's tag list
            yield from registry.distribution_tags(repository)
            return
        project, registry_repository = ids
        for tag in self._gitlab().pages(
            f"/projects/{project}/registry/repositories/{registry_repository}/tags",
            target=f"the tags of {repository}",
            params={"per_page": API_PAGE_SIZE},
        ):
            yield str(tag["name"])

    def _gitlab(self) -> VendorAPI:
        """The API client, its base found on first use."""
        with self._lock:
            if self._api is None:
                base = self._api_url or self._token_issuer()
                self._api = VendorAPI(
                    self._transport,
                    f"{base.rstrip('/')}/api/v4",
                    endpoint=self.name,
                    anonymous=self._token is None,
                    authorization=lambda: self._token,
                )
            return self._api

    def _token_issuer(self) -> str:
        """The GitLab instance: the origin of the realm the registry's challenge names."""
        with self._transport.request("GET", f"{self.url}/v2/") as answer:
            challenge = answer.headers.get("WWW-Authenticate", "")
        realm = next((c.realm for c in parse_challenges(challenge) if c.realm), None)
        if realm is None:
            raise ConnectionConfigError(
                f"connection {self.name!r}: {self.url} names no token service to find the "
                "GitLab instance by: set the connection's api_url extra"
            )
        parts = urlsplit(realm)
        return f"{parts.scheme}://{parts.netloc}"
