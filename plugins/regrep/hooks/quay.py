"""Quay connections: the registry, listed through Quay's API (:mod:`regrep.vendors.quay_api`)."""

from __future__ import annotations

from airflow.sdk.log import mask_secret

from regrep.hooks.base import RegistryEndpoint, RegistryHook, parse_list
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.vendors.quay_api import QuayApi


class QuayHook(RegistryHook):
    """A Quay registry (Harbor's "Quay" provider)."""

    conn_type = "regrep_quay"
    hook_name = "Quay (regrep)"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        api_token = str(endpoint.extra.get("api_token") or "") or None
        if api_token:
            mask_secret(api_token)
        transport = endpoint.transport(stop)
        api = QuayApi(
            transport,
            endpoint.url,
            endpoint.name,
            namespaces=parse_list(endpoint.name, "namespaces", endpoint.extra.get("namespaces")),
            api_token=api_token,
            username=endpoint.username,
        )
        return RegistryClient(endpoint.exchange(transport), api.provider())
