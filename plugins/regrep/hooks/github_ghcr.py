"""GitHub Container Registry connections: ghcr.io, listed through the GitHub API
(:mod:`regrep.vendors.github_ghcr_api`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.github_ghcr_api import GITHUB_API_URL, GithubApi


class GithubGhcrHook(RegistryHook):
    """GitHub Container Registry (Harbor's "Github GHCR" provider)."""

    conn_type = "regrep_github_ghcr"
    hook_name = "GitHub Container Registry (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        transport = endpoint.transport(stop)
        api = GithubApi(
            transport,
            endpoint.name,
            api_url=str(endpoint.extra.get("api_url") or GITHUB_API_URL),
            namespaces=parse_list(endpoint.name, "namespaces", endpoint.extra.get("namespaces")),
            username=endpoint.username,
            password=endpoint.password,
        )
        return RegistryClient(endpoint.exchange(transport), api.provider())
