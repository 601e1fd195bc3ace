"""Docker Hub connections: its registry, listed through the Docker Hub API
(:mod:`regrep.vendors.docker_hub_api`).

A connection host that names Docker Hub (or none) means ``https://registry-1.docker.io``;
``hub_api_url`` (extra) points the API elsewhere, for tests and enterprise proxies.
"""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.docker_hub_api import HUB_API_URL, REGISTRY_URL, DockerHubApi, names_docker_hub


class DockerHubHook(RegistryHook):
    """Docker Hub (Harbor's "Docker Hub" provider)."""

    conn_type = "regrep_docker_hub"
    hook_name = "Docker Hub (regrep)"

    def endpoint_url(self, host: str | None, schema: str | None, port: int | None) -> str:
        """Docker Hub's registry for an empty host or one of Docker Hub's names."""
        if names_docker_hub(host):
            return REGISTRY_URL
        return super().endpoint_url(host, schema, port)

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        extra, transport = endpoint.extra, endpoint.transport(stop)
        api = DockerHubApi(
            transport,
            endpoint.name,
            hub_api_url=str(extra.get("hub_api_url") or HUB_API_URL),
            namespaces=parse_list(endpoint.name, "namespaces", extra.get("namespaces")),
            username=endpoint.username,
            password=endpoint.password,
        )
        return RegistryClient(endpoint.exchange(transport), api.provider())

    def cannot_push(self, endpoint: RegistryEndpoint) -> str | None:
        if endpoint.username and endpoint.password:
            return None
        return (
            "Docker Hub takes pushes only from an account: set the connection's login (a "
            "Docker ID) and password (an access token)"
        )
