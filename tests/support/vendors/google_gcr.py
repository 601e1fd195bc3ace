"""Google Container Registry / Artifact Registry at the HTTP level, before a real registry.

Following "Authentication methods" (GCR and Artifact Registry docs): a JSON key file
authenticates as user ``_json_key`` with the whole file as the password, at the token realm
``/v2/token`` of the Docker token flow. The emulator checks the key it receives against the
service-account keys it issued (``client_email`` and ``private_key_id``), grants what the
account's project roles allow (repositories live under ``<project>/``), and serves GCR's
hierarchical tag listing: ``GET /v2/<path>/tags/list`` answers ``{"child": [...], "manifest":
{...}, "name", "tags"}`` for any path prefix, which is how tools list a project when the
catalog is empty (``catalog="empty"``, as it is for keys that may not list it) or capped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    HostedEmulator,
    Request,
    Response,
    TokenStore,
    capped_listing,
    token_realm,
)


def service_account_key(project: str, account: str) -> dict[str, str]:
    """A service-account key file as the Cloud console downloads it (a real RSA key)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"{account}@{project}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email}",
    }


class GcrEmulator(HostedEmulator):
    """GCR for one ``project``. ``keys`` are the service-account keys it knows; ``roles``
    maps an account's e-mail to its actions on the project (default pull and push)."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        keys: Collection[Mapping[str, str]],
        project: str = "my-project",
        roles: Mapping[str, Collection[str]] | None = None,
        catalog: Literal["full", "empty"] = "full",
        catalog_page_limit: int = 100,
        token_ttl: float = 3600,
        tls_dir: Path | None = None,
    ) -> None:
        super().__init__("gcr", upstream, tls_dir=tls_dir)
        self.keys = {key["client_email"]: key["private_key_id"] for key in keys}
        self.project = project
        self.roles = dict(roles or {})
        self.catalog = catalog
        self.catalog_page_limit = catalog_page_limit
        self.tokens = TokenStore(token_ttl)
        self.server.gate = token_realm(
            self.server, "/v2/token", self.tokens, "gcr.io", self._authenticate, self._authorize
        )
        self._capped = capped_listing(self.server, lambda: self.catalog_page_limit)
        self.server.route("GET", r"/v2/_catalog", self._catalog)
        self.server.route("GET", r"/v2/(?P<name>.+)/tags/list", self._tags)

    def _authenticate(self, request: Request) -> str | None:
        if request.basic is None or request.basic[0] != "_json_key":
            return None
        try:
            key: Any = json.loads(request.basic[1])
            email, key_id = key["client_email"], key["private_key_id"]
        except (ValueError, KeyError, TypeError):
            return None
        return str(email) if self.keys.get(email) == key_id else None

    def _authorize(self, account: str, resource: str) -> Collection[str]:
        actions = self.roles.get(account, ("pull", "push"))
        if resource == "catalog":
            return ("*",) if actions else ()
        inside = resource == self.project or resource.startswith(f"{self.project}/")
        return actions if inside else ()

    def _catalog(self, request: Request) -> Response:
        if self.catalog == "full":
            return self._capped(request)
        refusal = self.server.gate(request) if self.server.gate else None
        return refusal or Response.json({"repositories": []})

    def _tags(self, request: Request) -> Response:
        """GCR's listing of a path: its tags if it is a repository, its children anyway."""
        refusal = self.server.gate(request) if self.server.gate else None
        if refusal is not None:
            return refusal
        name = request.params["name"]
        answer = self.server.forward(request)
        names = self.server.upstream_repositories()
        children = sorted(
            {n[len(name) + 1 :].split("/")[0] for n in names if n.startswith(f"{name}/")}
        )
        if answer.status != 200 and not children:
            return answer
        tags = json.loads(answer.body).get("tags") or [] if answer.status == 200 else []
        return Response.json({"child": children, "manifest": {}, "name": name, "tags": tags})
