"""Azure Container Registry endpoints: admin or token credentials, or a service principal.

ACR speaks the distribution API and Docker's token flow (realm ``/oauth2/token`` on the
registry), so admin-user and repository-scoped token credentials need nothing but the
shared client. A service principal can sign in two ways:

- as basic credentials at the token realm (client id and secret, as ``docker login``
  does), the default;
- with the ``tenant_id`` extra, through Microsoft Entra ID, as ``az acr login`` does
  ("Azure Container Registry authentication", ``Azure/acr`` ``docs/AAD-OAuth.md``): a
  client-credentials token from ``<authority>/<tenant>/oauth2/v2.0/token``, exchanged at
  the registry's ``/oauth2/exchange`` for an ACR refresh token, which is then the password
  of user ``00000000-0000-0000-0000-000000000000`` at the token realm. The refresh token
  lives hours (its JWT ``exp`` says how long); the client renews it through the same
  exchange shortly before it lapses, and the short-lived access tokens renew as any bearer
  token does.

Repositories come into being on the first push; there is nothing to create. Listing tags
takes the ``metadata_read`` action, which the client learns from ACR's challenge.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from airflow.sdk.log import mask_secret

from regrep.registry.credentials import Credentials
from regrep.registry.errors import Forbidden, RegistryError, Unauthorized
from regrep.registry.transport import Transport
from regrep.vendors.cloud_api import temporary_login
from regrep.vendors.vendor_api import VendorAPI
from regrep.vendors.vendor_errors import CodedErrors, VendorRefusal, json_error

# The user name ACR pairs with a refresh token ("az acr login --expose-token").
REFRESH_TOKEN_USER = "00000000-0000-0000-0000-000000000000"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
# Entra ID tokens for ACR's exchange are Azure Resource Manager tokens, as az cli's.
ARM_SCOPE = "https://management.azure.com/.default"
_FALLBACK_REFRESH_LIFETIME = 3600.0  # if a refresh token does not say (ACR's last hours)
_ENTRA_KINDS: dict[str, type[RegistryError]] = {
    "invalid_client": Unauthorized,  # AADSTS7000215: wrong secret
    "unauthorized_client": Unauthorized,  # AADSTS700016: unknown application
    "invalid_request": Unauthorized,  # AADSTS90002: unknown tenant
}
_ACR_KINDS: dict[str, type[RegistryError]] = {"UNAUTHORIZED": Unauthorized, "DENIED": Forbidden}


def _acr_error(response: requests.Response) -> VendorRefusal:
    """ACR's token services answer errors the distribution way: ``{"errors": [...]}``."""
    try:
        first = response.json()["errors"][0]
        return VendorRefusal(str(first.get("code", "")), str(first.get("message", "")))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return VendorRefusal("", "")


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verifying it (we only schedule renewal)."""
    try:
        payload = token.split(".")[1]
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError, binascii.Error):
        return None


class EntraLogin:
    """An ACR refresh token for a service principal, signed in through Microsoft Entra ID:
    the registry credentials of an ACR client (``credentials=EntraLogin(...).refresh_token``)."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        name: str,
        *,
        client_id: str,
        client_secret: str,
        tenant_id: str,
        authority_host: str = DEFAULT_AUTHORITY,
    ) -> None:
        self.name, self.host = name, urlsplit(url).netloc
        self._client_id = client_id
        self._client_secret = client_secret
        self._tenant_id = tenant_id
        self._entra = VendorAPI(
            transport,
            f"{authority_host.rstrip('/')}/{tenant_id}",
            endpoint=self.name,
            anonymous=False,
            errors=CodedErrors(
                "Microsoft Entra ID",
                self.name,
                json_error(("error",), ("error_description",)),
                _ENTRA_KINDS,
            ),
        )
        self._acr = VendorAPI(
            transport,
            url,
            endpoint=self.name,
            anonymous=False,
            errors=CodedErrors("ACR", self.name, _acr_error, _ACR_KINDS),
        )

    def refresh_token(self) -> Credentials:
        """Entra ID client credentials -> ACR refresh token (``/oauth2/exchange``)."""
        signed_in = self._json(
            self._entra.request(
                "POST",
                "/oauth2/v2.0/token",
                target="sign the service principal in with Microsoft Entra ID",
                form={
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                    "grant_type": "client_credentials",
                    "scope": ARM_SCOPE,
                },
            ),
            "access_token",
        )
        mask_secret(signed_in)
        refresh = self._json(
            self._acr.request(
                "POST",
                "/oauth2/exchange",
                target="exchange the Entra ID token for an ACR refresh token",
                form={
                    "grant_type": "access_token",
                    "service": self.host,
                    "tenant": self._tenant_id,
                    "access_token": signed_in,
                },
            ),
            "refresh_token",
        )
        expiry = jwt_expiry(refresh)
        lifetime = expiry - time.time() if expiry else _FALLBACK_REFRESH_LIFETIME
        return temporary_login(REFRESH_TOKEN_USER, refresh, lifetime)

    def _json(self, response: requests.Response, key: str) -> str:
        with response:
            try:
                value = response.json()[key]
            except (ValueError, KeyError, TypeError):
                value = None
        if not isinstance(value, str) or not value:
            raise RegistryError(
                f"endpoint {self.name}: {response.url.split('?')[0]} answered without {key}",
                status=response.status_code,
                endpoint=self.name,
            )
        return value
