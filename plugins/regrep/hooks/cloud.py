"""Connections to the registries behind a cloud vendor's signed API (ECR, Alibaba ACR,
Huawei SWR): an access key pair instead of a registry password, the region in the Registry
URL (else the ``region`` extra), the API's client in :mod:`regrep.vendors.cloud_api`."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, ClassVar
from urllib.parse import urlsplit

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ConnectionConfigError
from regrep.vendors.cloud_api import KeyPairApi


class KeyPairHook(RegistryHook, ABC):
    """A provider whose connection holds a key pair and whose Registry URL names the region.

    ``needs`` says what is missing when the pair is; the region is the ``region`` extra,
    else the ``region`` group of ``registry_host`` (``region_name`` and ``expected_url`` word
    the error when neither has it); the API URL is the ``api_url`` extra, else
    :meth:`default_api_url`.
    """

    api_class: ClassVar[type[KeyPairApi]]
    needs: ClassVar[str]
    registry_host: ClassVar[re.Pattern[str]]
    expected_url: ClassVar[str]
    region_name: ClassVar[str] = "region"

    @abstractmethod
    def default_api_url(self, region: str) -> str:
        """The vendor API's URL in ``region``, unless the connection names another."""

    def api_options(self, host: re.Match[str] | None) -> dict[str, Any]:
        """Options of the API read from the Registry URL's host (ECR's account)."""
        return {}

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        if not endpoint.username or not endpoint.password:
            raise ConnectionConfigError(f"connection {endpoint.name!r}: {self.needs}")
        match = self.registry_host.fullmatch(urlsplit(endpoint.url).hostname or "")
        region = str(endpoint.extra.get("region") or (match["region"] if match else ""))
        if not region:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: cannot tell the {self.region_name} from the "
                f"Registry URL {endpoint.url!r} (expected {self.expected_url}); set the "
                "'region' extra"
            )
        transport = endpoint.transport(stop)
        api = self.api_class(
            transport,
            name=endpoint.name,
            host=urlsplit(endpoint.url).netloc,
            access_key=endpoint.username,
            secret_key=endpoint.password,
            region=region,
            api_url=str(endpoint.extra.get("api_url") or self.default_api_url(region)),
            **self.api_options(match),
        )
        exchange = endpoint.exchange(transport, credentials=api.temporary_login)
        return RegistryClient(exchange, api.provider())
