"""JFrog Artifactory: a catalog per Docker repository key, through Artifactory's API.

Artifactory serves each Docker repository (a "repository key") as a registry, reached on
the platform's host as ``/v2/<key>/<image>/...`` (the "repository path" method), so content
needs nothing special. It has no catalog across keys: as Harbor's adapter does, regrep
lists the Docker repositories (``GET /artifactory/api/repositories?packageType=docker``,
JFrog REST API "Get Repositories") and reads each one's catalog at
``/artifactory/api/docker/<key>/v2/_catalog`` (distribution pagination, ``n``/``last`` and
``Link``), naming repositories ``<key>/<image>``. Keys come from the rule's name filter,
else the connection's ``namespaces``, else that listing. Artifactory takes basic
credentials (a password, API key or access token) on both. The repository key must exist:
regrep does not create Artifactory repositories.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import basic_authorization
from regrep.registry.errors import NotFound
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.rules import patterns
from regrep.vendors.vendor_api import VendorAPI


class JfrogApi:
    """Artifactory's REST API; ``namespaces`` are the Docker repository keys to list."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        name: str,
        *,
        namespaces: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self._keys = tuple(namespaces)
        basic = basic_authorization(username, password)
        self._api = VendorAPI(
            transport,
            f"{url}/artifactory/api",
            endpoint=name,
            anonymous=basic is None,
            authorization=lambda: basic,
        )

    def provider(self) -> Provider:
        """Artifactory lists one Docker repository key at a time."""
        return Provider(name="JFrog Artifactory", list_repositories=self.list_repositories)

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """``<key>/<image>`` for every image in the catalog of each repository key."""
        keys = patterns.fixed_namespaces(name_pattern) or self._keys or self._docker_keys()
        for key in keys:
            path = f"/artifactory/api/docker/{key}/v2/_catalog"
            try:
                target = f"the catalog of repository {key}"
                for image in registry.catalog(page_size=page_size, path=path, target=target):
                    yield f"{key}/{image}"
            except NotFound:
                continue  # a key the pattern names but the instance lacks

    def _docker_keys(self) -> list[str]:
        listed = self._api.get_json(
            "/repositories", target="the Docker repositories", params={"packageType": "docker"}
        )
        return [str(repository["key"]) for repository in listed]
