"""Quay at the HTTP level: the API v1 repository listing and the token-authenticated registry.

Follows docs.quay.io "Quay API": ``GET /api/v1/repository?namespace=<ns>`` answers
``{"repositories": [{"namespace", "name", "description", "is_public", "kind", "state"}],
"next_page": <cursor>}`` (``next_page`` only while more remain; pages of
``max_page_size``), 400 ``{"error_message", "error_type"}`` without a namespace (or
``public``/``starred``), 401 for an unknown OAuth token; without a token, public
repositories only. The registry takes the Docker token flow at ``/v2/auth`` (Quay's
realm), robot accounts ``<org>+<name>`` pushing in their organisation.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Unpack

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import Accounts, AccountsEmulator, Request, Response, VendorServer


class QuayEmulator(AccountsEmulator):
    """Quay over ``upstream``: ``users`` (robots included) map to passwords, ``api_tokens``
    to the user an OAuth token acts for; ``private`` repositories need membership."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        api_tokens: Mapping[str, str] | None = None,
        **accounts: Unpack[Accounts],
    ) -> None:
        super().__init__(upstream, **accounts)
        self.api_tokens = dict(api_tokens or {})
        self.server = VendorServer("quay.io", upstream=upstream.url)
        self.server.gate = self._token_realm(self.server, "/v2/auth", "quay.io")
        self.server.route("GET", r"/api/v1/repository", self._repositories)

    @property
    def url(self) -> str:
        return self.server.url

    def _owns(self, subject: str, namespace: str) -> bool:
        """A user (or one of an organisation's robots) owns its namespace."""
        return subject.split("+", 1)[0] == namespace

    def _repositories(self, request: Request) -> Response:
        caller = ""
        if request.bearer is not None:
            if request.bearer not in self.api_tokens:
                return Response.json(
                    {"error": "invalid_token", "error_description": "The access token is invalid"},
                    401,
                )
            caller = self.api_tokens[request.bearer]
        namespace = request.arg("namespace")
        if not namespace:
            return Response.json(
                {
                    "error_message": "namespace, starred or public are required for this API call",
                    "error_type": "invalid_request",
                },
                400,
            )
        listed = [
            {
                "namespace": namespace,
                "name": name.split("/", 1)[1],
                "description": None,
                "is_public": name not in self.private,
                "kind": "image",
                "state": "NORMAL",
            }
            for name in self.server.upstream_repositories()
            if name.startswith(f"{namespace}/") and "pull" in self._may(caller, name)
        ]
        start = int(base64.b64decode(request.arg("next_page") or "MA==").decode())
        end = start + self.max_page_size
        body: dict[str, object] = {"repositories": listed[start:end]}
        if end < len(listed):
            body["next_page"] = base64.b64encode(str(end).encode()).decode()
        return Response.json(body)
