"""Azure Container Registry connections: admin or token logins as they are, a service
principal signed in through Microsoft Entra ID (:mod:`regrep.vendors.azure_acr_api`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.registry.protocols import SourceRegistry
from regrep.vendors.azure_acr_api import DEFAULT_AUTHORITY, REFRESH_TOKEN_USER, EntraLogin

__all__ = ["REFRESH_TOKEN_USER", "AzureAcrHook"]


class AzureAcrHook(RegistryHook):
    """An Azure Container Registry (Harbor's "Azure ACR" provider)."""

    conn_type = "regrep_azure_acr"
    hook_name = "Azure Container Registry (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> SourceRegistry:
        tenant_id = str(endpoint.extra.get("tenant_id") or "")
        if not tenant_id or not endpoint.username or not endpoint.password:
            return super().make_client(endpoint, stop)  # admin, token or basic service principal
        transport = endpoint.transport(stop)
        login = EntraLogin(
            transport,
            endpoint.url,
            endpoint.name,
            client_id=endpoint.username,
            client_secret=endpoint.password,
            tenant_id=tenant_id,
            authority_host=str(endpoint.extra.get("authority_host") or DEFAULT_AUTHORITY),
        )
        return RegistryClient(endpoint.exchange(transport, credentials=login.refresh_token))
