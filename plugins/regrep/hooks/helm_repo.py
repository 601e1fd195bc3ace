"""Classic Helm chart repository connections: a replication source only
(:mod:`regrep.vendors.helm_charts`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.protocols import SourceRegistry
from regrep.vendors.helm_charts import HelmRepoClient


class HelmRepoHook(RegistryHook):
    """A classic Helm chart repository (Harbor's "Helm Hub"), read-only."""

    conn_type = "regrep_helm_repo"
    hook_name = "Helm chart repository (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> SourceRegistry:
        return HelmRepoClient(
            endpoint.url,
            username=endpoint.username,
            password=endpoint.password,
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
            stop=stop,
        )

    def cannot_push(self, endpoint: RegistryEndpoint) -> str | None:
        return (
            "it is a Helm chart repository, which regrep only reads: make it a rule's source "
            "and replicate its charts into an OCI registry"
        )
