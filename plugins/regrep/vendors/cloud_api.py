"""What the registries behind a cloud vendor's signed API share (ECR, Alibaba ACR, Huawei SWR).

Their connections hold an access key pair instead of a registry password, and the registry
URL names the region (else the ``region`` extra does). The registry login is a temporary one
the vendor API hands out with its end, which the registry client renews shortly before it
lapses and when the registry refuses it. Namespaces (ECR: repositories) are created through
the API before a push, once per client. :class:`KeyPairApi` is such an API;
:class:`~regrep.hooks.cloud.KeyPairHook` reads the connection. (ACR's Entra ID exchange,
too, ends in a temporary login: :func:`temporary_login` serves it.)
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import ClassVar

from airflow.sdk.log import mask_secret

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import Credentials
from regrep.registry.errors import RegistryError
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.vendor_api import VendorAPI
from regrep.vendors.vendor_errors import CodedErrors, json_error


def temporary_login(username: str, password: str, lifetime: float) -> Credentials:
    """A registry login the vendor API issued for ``lifetime`` more seconds; its password
    masked from here on."""
    mask_secret(password)
    return Credentials(username, password, expires_in=max(1.0, lifetime))


class EnsuredOnce:
    """Names (namespaces, repositories) this client has made sure exist: each is made sure
    of once, and a failed attempt is not remembered, so a retry tries again."""

    def __init__(self) -> None:
        self._done: set[str] = set()
        self._lock = threading.Lock()

    def ensure(self, name: str, make_sure: Callable[[], None]) -> None:
        """Run ``make_sure`` unless ``name`` has been made sure of already."""
        with self._lock:
            if name in self._done:
                return
        make_sure()
        with self._lock:
            self._done.add(name)


class KeyPairApi(ABC):
    """A vendor API at ``api_url`` whose every call is signed with the key pair by
    :meth:`_sign`; :meth:`temporary_login` gets the registry login from it.

    ``vendor`` names the API in messages, ``error_keys`` are the code and message keys of
    its JSON error bodies and ``error_kinds`` maps its error codes to the typed errors.
    """

    vendor: ClassVar[str]
    provider_name: ClassVar[str]
    error_keys: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]]
    error_kinds: ClassVar[Mapping[str, type[RegistryError]]] = {}

    def __init__(
        self,
        transport: Transport,
        *,
        name: str,
        host: str,
        access_key: str,
        secret_key: str,
        region: str,
        api_url: str,
    ) -> None:
        self.name, self.host = name, host
        self._transport = transport
        self._access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self._api = VendorAPI(
            transport,
            api_url,
            endpoint=name,
            anonymous=False,
            sign=self._sign,
            errors=CodedErrors(self.vendor, name, json_error(*self.error_keys), self.error_kinds),
        )

    def provider(self) -> Provider:
        """The vendor registry's differences: listing and namespace creation by the API."""
        return Provider(
            name=self.provider_name,
            settings={"region": self.region},
            list_repositories=self.list_repositories,
            ensure_namespace=self.ensure_namespace,
        )

    @abstractmethod
    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """Every repository, listed through the API."""

    @abstractmethod
    def ensure_namespace(self, repository: str) -> None:
        """Create what must exist before a push into ``repository``."""

    @abstractmethod
    def temporary_login(self) -> Credentials:
        """Ask the API for a registry login (see :func:`temporary_login`)."""

    @abstractmethod
    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        """The headers that sign one API request with the key pair."""
