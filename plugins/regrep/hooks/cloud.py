"""What the registries behind a cloud vendor's signed API share (ECR, Alibaba ACR, Huawei SWR).

Their connections hold an access key pair instead of a registry password, and the registry
URL names the region (else the ``region`` extra does). The registry login is a temporary one
the vendor API hands out with its end, which the registry client renews shortly before it
lapses and when the registry refuses it. Namespaces (ECR: repositories) are created through
the API before a push, once per client. :class:`KeyPairHook` reads such a connection and
builds the provider's :class:`KeyPairClient`. (ACR's Entra ID exchange, too, ends in a temporary
login: :func:`temporary_login` serves it.)
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk.log import mask_secret

from regrep.hooks.api import VendorAPI
from regrep.hooks.base import ConnectionConfigError, RegistryEndpoint, RegistryHook
from regrep.hooks.vendor_errors import CodedErrors, json_error
from regrep.registry import RegistryClient
from regrep.registry.cancellation import Cancellation
from regrep.registry.credentials import Credentials
from regrep.registry.errors import RegistryError


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


class KeyPairClient(RegistryClient, ABC):
    """A registry client whose login comes from its vendor's API at ``api_url``, every call
    signed with the key pair by :meth:`_sign`; :meth:`_temporary_login` gets the login.

    ``vendor`` names the API in messages, ``error_keys`` are the code and message keys of
    its JSON error bodies and ``error_kinds`` maps its error codes to the typed errors.
    """

    vendor: ClassVar[str]
    error_keys: ClassVar[tuple[tuple[str, ...], tuple[str, ...]]]
    error_kinds: ClassVar[Mapping[str, type[RegistryError]]] = {}

    def __init__(
        self,
        url: str,
        *,
        access_key: str,
        secret_key: str,
        region: str,
        api_url: str,
        verify: bool = True,
        ca_bundle: str | None = None,
        name: str | None = None,
        stop: Cancellation | None = None,
    ) -> None:
        super().__init__(
            url,
            verify=verify,
            ca_bundle=ca_bundle,
            name=name,
            credentials=self._temporary_login,
            stop=stop,
        )
        self._access_key = access_key
        self._secret_key = secret_key
        self.region = region
        self._api = VendorAPI(
            self._transport,
            api_url,
            endpoint=self.name,
            anonymous=False,
            sign=self._sign,
            errors=CodedErrors(
                self.vendor, self.name, json_error(*self.error_keys), self.error_kinds
            ),
        )

    @abstractmethod
    def _temporary_login(self) -> Credentials:
        """Ask the API for a registry login (see :func:`temporary_login`)."""

    @abstractmethod
    def _sign(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> Mapping[str, str]:
        """The headers that sign one API request with the key pair."""


class KeyPairHook(RegistryHook, ABC):
    """A provider whose connection holds a key pair and whose Registry URL names the region.

    ``needs`` says what is missing when the pair is; the region is the ``region`` extra,
    else the ``region`` group of ``registry_host`` (``region_name`` and ``expected_url`` word
    the error when neither has it); the API URL is the ``api_url`` extra, else
    :meth:`default_api_url`.
    """

    client_class: ClassVar[type[KeyPairClient]]
    needs: ClassVar[str]
    registry_host: ClassVar[re.Pattern[str]]
    expected_url: ClassVar[str]
    region_name: ClassVar[str] = "region"

    @abstractmethod
    def default_api_url(self, region: str) -> str:
        """The vendor API's URL in ``region``, unless the connection names another."""

    def client_options(self, host: re.Match[str] | None) -> dict[str, Any]:
        """Options of the client read from the Registry URL's host (ECR's account)."""
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
        return self.client_class(
            endpoint.url,
            access_key=endpoint.username,
            secret_key=endpoint.password,
            region=region,
            api_url=str(endpoint.extra.get("api_url") or self.default_api_url(region)),
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
            stop=stop,
            **self.client_options(match),
        )
