"""Harbor 2.x connections: the registry with Harbor's API (:mod:`regrep.vendors.harbor_api`)."""

from __future__ import annotations

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.harbor_api import harbor_registry


class HarborHook(RegistryHook):
    """A Harbor 2.x instance (Harbor's "Harbor" provider)."""

    conn_type = "regrep_harbor"
    hook_name = "Harbor (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        exchange = endpoint.exchange(endpoint.transport(stop))
        return harbor_registry(exchange, endpoint.username, endpoint.password)
