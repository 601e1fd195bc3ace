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
from typing import Any

from regrep.hooks.api import VendorAPI
from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry import RegistryClient
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import DEFAULT_PAGE_SIZE
from regrep.registry.credentials import basic_authorization
from regrep.registry.errors import NotFound, Operation
from regrep.rules import patterns

CATALOG_SCOPE = "registry:catalog:*"  # the token scope a catalog read needs


class JfrogClient(RegistryClient):
    """An Artifactory instance; ``namespaces`` are the Docker repository keys to list."""

    def __init__(
        self,
        url: str,
        *,
        namespaces: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__(url, username=username, password=password, **options)
        self._keys = tuple(namespaces)
        basic = basic_authorization(username, password)
        self._api = VendorAPI(
            self._transport,
            f"{self.url}/artifactory/api",
            endpoint=self.name,
            anonymous=basic is None,
            authorization=lambda: basic,
        )

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """``<key>/<image>`` for every image in the catalog of each repository key."""
        keys = patterns.fixed_namespaces(name_pattern) or self._keys or self._docker_keys()
        for key in keys:
            path = f"/artifactory/api/docker/{key}/v2/_catalog"
            op = Operation("GET", path, "list", None, f"the catalog of repository {key}")
            try:
                for image in self._exchange.paginate(
                    op, (CATALOG_SCOPE,), "repositories", page_size
                ):
                    yield f"{key}/{image}"
            except NotFound:
                continue  # a key the pattern names but the instance lacks

    def _docker_keys(self) -> list[str]:
        listed = self._api.get_json(
            "/repositories", target="the Docker repositories", params={"packageType": "docker"}
        )
        return [str(repository["key"]) for repository in listed]


class JfrogHook(RegistryHook):
    """JFrog Artifactory (Harbor's "JFrog Artifactory" provider)."""

    conn_type = "regrep_jfrog"
    hook_name = "JFrog Artifactory (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        return JfrogClient(
            endpoint.url,
            namespaces=parse_list(endpoint.name, "namespaces", endpoint.extra.get("namespaces")),
            username=endpoint.username,
            password=endpoint.password,
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
            stop=stop,
        )
