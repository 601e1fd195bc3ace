"""Alibaba Cloud ACR (personal edition) connections: an AccessKey pair, the API client in
:mod:`regrep.vendors.ali_acr_api`."""

from __future__ import annotations

from urllib.parse import urlsplit

from regrep.hooks.base import RegistryEndpoint
from regrep.hooks.cloud import KeyPairHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ConnectionConfigError
from regrep.vendors.ali_acr_api import ENTERPRISE_HOST, REGISTRY_HOST, AliAcrApi


class AliAcrHook(KeyPairHook):
    """Alibaba Cloud ACR, personal edition (Harbor's "Alibaba ACR" provider)."""

    conn_type = "regrep_ali_acr"
    hook_name = "Alibaba Cloud ACR (regrep)"
    api_class = AliAcrApi
    needs = "Alibaba ACR needs an AccessKey ID and secret"
    registry_host = REGISTRY_HOST
    expected_url = "https://registry.<region>.aliyuncs.com"

    def default_api_url(self, region: str) -> str:
        return f"https://cr.{region}.aliyuncs.com"

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        host = urlsplit(endpoint.url).hostname or ""
        if ENTERPRISE_HOST.fullmatch(host):
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: {host} is an ACR Enterprise Edition instance, "
                "which this connection type does not support; use a Docker Registry "
                "connection with the instance's fixed password"
            )
        return super().make_client(endpoint, stop)
