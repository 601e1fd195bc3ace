"""GitLab container registry connections, listed through the GitLab API
(:mod:`regrep.vendors.gitlab_api`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.gitlab_api import GitlabApi


class GitlabHook(RegistryHook):
    """GitLab's container registry (Harbor's "GitLab" provider)."""

    conn_type = "regrep_gitlab"
    hook_name = "GitLab Container Registry (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        transport = endpoint.transport(stop)
        api = GitlabApi(
            transport,
            endpoint.url,
            endpoint.name,
            api_url=str(endpoint.extra.get("api_url") or "") or None,
            projects=parse_list(endpoint.name, "projects", endpoint.extra.get("projects")),
            password=endpoint.password,
        )
        return RegistryClient(endpoint.exchange(transport), api.provider())
