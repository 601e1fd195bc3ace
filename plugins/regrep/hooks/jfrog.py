"""JFrog Artifactory connections, listed per Docker repository key
(:mod:`regrep.vendors.jfrog_api`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.jfrog_api import JfrogApi


class JfrogHook(RegistryHook):
    """JFrog Artifactory (Harbor's "JFrog Artifactory" provider)."""

    conn_type = "regrep_jfrog"
    hook_name = "JFrog Artifactory (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        transport = endpoint.transport(stop)
        api = JfrogApi(
            transport,
            endpoint.url,
            endpoint.name,
            namespaces=parse_list(endpoint.name, "namespaces", endpoint.extra.get("namespaces")),
            username=endpoint.username,
            password=endpoint.password,
        )
        return RegistryClient(endpoint.exchange(transport), api.provider())
