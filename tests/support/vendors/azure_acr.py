"""Azure Container Registry at the HTTP level, with Microsoft Entra ID, before a real registry.

Following "Azure Container Registry authentication" (the ``Azure/acr`` repository's
``docs/AAD-OAuth.md``) and the Microsoft identity platform's client-credentials flow:

- ``POST /<tenant>/oauth2/v2.0/token`` (Entra ID, the ``authority_host`` of a connection):
  ``client_id``, ``client_secret``, ``grant_type=client_credentials`` -> ``{"token_type":
  "Bearer", "expires_in", "access_token"}``; errors ``{"error", "error_description"}``
  (``invalid_client`` AADSTS7000215 for a wrong secret, ``unauthorized_client``
  AADSTS700016 for an unknown application).
- ``POST /oauth2/exchange``: ``grant_type=access_token``, ``service``, ``tenant``,
  ``access_token`` -> ``{"refresh_token"}``, a JWT whose ``exp`` says when it lapses.
- ``GET /oauth2/token`` (the registry's token realm): basic credentials of the admin user, a
  service principal, or ``00000000-0000-0000-0000-000000000000`` with a refresh token ->
  ``{"access_token"}`` granting what the subject's roles allow.
- The registry answers with ``Bearer realm="<registry>/oauth2/token"``; listing tags takes
  ``metadata_read`` (as Harbor's ``azurecr`` adapter shows); the catalog serves at most
  ``catalog_page_limit`` names a page whatever ``n`` asks, so clients must follow ``Link``;
  an authenticated identity without any role gets ``insufficient_scope`` even on ``/v2/``.

Repositories come into being on push, as in ACR.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Collection, Mapping
from pathlib import Path

import jwt

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    HostedEmulator,
    Request,
    Response,
    TokenStore,
    capped_listing,
    required_scope,
    token_realm,
)

NULL_GUID = "00000000-0000-0000-0000-000000000000"
_TAGS = re.compile(r"/v2/(?P<name>.+)/tags/list")


def _aad_error(status: int, error: str, description: str) -> Response:
    return Response.json({"error": error, "error_description": description}, status)


class AcrEmulator(HostedEmulator):
    """One registry and its tenant. ``credentials`` maps admin users and service principal
    client ids to passwords/secrets; ``roles`` maps a subject (user or client id) to its
    registry actions (pull, push, delete, metadata_read; default all)."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        credentials: Mapping[str, str],
        tenant: str = "72f988bf-0000-0000-0000-2d7cd011db47",
        roles: Mapping[str, Collection[str]] | None = None,
        access_ttl: float = 3600,
        refresh_ttl: float = 3 * 3600,
        catalog_page_limit: int = 100,
        tls_dir: Path | None = None,
    ) -> None:
        super().__init__("acr", upstream, tls_dir=tls_dir)
        self.credentials = dict(credentials)
        self.tenant = tenant
        self.roles = dict(roles or {})
        self.refresh_ttl = refresh_ttl
        self.catalog_page_limit = catalog_page_limit
        self.access_tokens = TokenStore(access_ttl)
        self.entra_tokens = TokenStore(3600)
        self.refresh_tokens: list[str] = []
        self._signing_key = secrets.token_bytes(32)
        self.service = self.server.host
        self.server.gate = self._gate
        self.server.route("POST", rf"/{re.escape(tenant)}/oauth2/v2\.0/token", self._entra_token)
        self.server.route("POST", r"/[^/]+/oauth2/v2\.0/token", self._unknown_tenant)
        self.server.route("POST", r"/oauth2/exchange", self._exchange)
        self._bearer = token_realm(
            self.server,
            "/oauth2/token",
            self.access_tokens,
            self.service,
            self._authenticate,
            self._authorize,
            scope_for=self._scope_for,
        )
        self.server.route(
            "GET", r"/v2/_catalog", capped_listing(self.server, lambda: self.catalog_page_limit)
        )

    # -- Entra ID and the exchange ----------------------------------------------------------

    def _entra_token(self, request: Request) -> Response:
        form = request.form()
        client_id = form.get("client_id", "")
        if form.get("grant_type") != "client_credentials":
            return _aad_error(400, "unsupported_grant_type", "AADSTS70003: unsupported grant")
        if client_id not in self.credentials:
            return _aad_error(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the "
                f"directory '{self.tenant}'.",
            )
        if not secrets.compare_digest(form.get("client_secret", ""), self.credentials[client_id]):
            return _aad_error(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided."
            )
        grant = self.entra_tokens.issue(client_id, [form.get("scope", "")])
        return Response.json(
            {"token_type": "Bearer", "expires_in": grant.expires_in, "access_token": grant.value}
        )

    def _unknown_tenant(self, request: Request) -> Response:
        return _aad_error(400, "invalid_request", "AADSTS90002: Tenant not found.")

    def _exchange(self, request: Request) -> Response:
        form = request.form()
        grant = self.entra_tokens.lookup(form.get("access_token"))
        if (
            form.get("grant_type") != "access_token"
            or form.get("tenant") != self.tenant
            or form.get("service") != self.service
            or grant is None
        ):
            return Response.registry_error(401, "UNAUTHORIZED", "invalid Entra ID access token")
        expires = int(time.time() + self.refresh_ttl)
        claims = {
            "sub": grant.subject,
            "tenant": self.tenant,
            "exp": expires,
            "grant_type": "refresh_token",
        }
        token = jwt.encode(claims, self._signing_key, algorithm="HS256")
        self.refresh_tokens.append(token)
        return Response.json({"refresh_token": token})

    # -- the registry -----------------------------------------------------------------------

    def _authenticate(self, request: Request) -> str | None:
        if request.basic is None:
            return None
        user, password = request.basic
        if user == NULL_GUID:
            try:
                claims = jwt.decode(password, self._signing_key, algorithms=["HS256"])
            except jwt.InvalidTokenError:  # expired or forged
                return None
            return str(claims["sub"])
        expected = self.credentials.get(user)
        return user if expected and secrets.compare_digest(password, expected) else None

    def _authorize(self, subject: str, resource: str) -> Collection[str]:
        roles = self.roles.get(subject, ("*",))
        # Any role that reads the registry lists its catalog (registry:catalog:*).
        return ("*",) if resource == "catalog" and roles else roles

    def _scope_for(self, request: Request) -> str | None:
        match = _TAGS.fullmatch(request.path)
        return f"repository:{match['name']}:metadata_read" if match else required_scope(request)

    def _gate(self, request: Request) -> Response | None:
        refusal = self._bearer(request)
        if refusal is not None:
            return refusal
        grant = self.access_tokens.lookup(request.bearer)
        if grant is not None and not self.roles.get(grant.subject, ("*",)):
            challenge = (
                f'Bearer realm="{self._bearer.realm}",service="{self.service}",'
                'error="insufficient_scope"'
            )
            return Response.registry_error(
                401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge}
            )
        return None
