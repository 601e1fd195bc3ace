"""GitHub Container Registry at the HTTP level: the packages API and ghcr.io's registry.

The GitHub REST API (docs.github.com "REST API endpoints for packages"):
``GET /orgs/{org}/packages`` and ``GET /users/{username}/packages`` with the required
``package_type`` (``container``), ``per_page`` and ``page``, answering a JSON list of
packages (``id``, ``name``, ``package_type``, ``owner``, ``visibility``) with a ``Link``
header (``rel="next"``, ``rel="last"``); 401 ``{"message": "Requires authentication"}``
without a valid token (bearer or ``token`` scheme), 404 for an owner of the other kind.
ghcr.io: the Docker token flow at ``/token`` (user name + personal access token), no
catalog (``/v2/_catalog`` answers 404), pushes by the owner or an organisation member.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Unpack

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    Accounts,
    AccountsEmulator,
    Request,
    Response,
    VendorServer,
    page_url,
)


class GhcrEmulator(AccountsEmulator):
    """ghcr.io and api.github.com over ``upstream``; ``users`` map to their tokens and
    ``orgs`` to their members. Every package is public unless in ``private``."""

    default_page_size = 30

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        orgs: Mapping[str, Collection[str]] | None = None,
        **accounts: Unpack[Accounts],
    ) -> None:
        super().__init__(upstream, **accounts)
        self.orgs = {org: set(members) for org, members in (orgs or {}).items()}
        self.registry = VendorServer("ghcr.io", upstream=upstream.url)
        self.registry.gate = self._token_realm(self.registry, "/token", "ghcr.io")
        self.registry.route(
            "GET",
            r"/v2/_catalog",
            lambda request: Response.registry_error(404, "NOT_FOUND", "404 page not found"),
        )
        self.api = VendorServer("api.github.com")
        self.api.route("GET", r"/orgs/(?P<owner>[^/]+)/packages", self._org_packages)
        self.api.route("GET", r"/users/(?P<owner>[^/]+)/packages", self._user_packages)

    def _owns(self, subject: str, namespace: str) -> bool:
        return subject == namespace or subject in self.orgs.get(namespace, set())

    def _caller(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return next((user for user, known in self.users.items() if known == token), None)

    def _org_packages(self, request: Request) -> Response:
        return self._packages(request, is_org=True)

    def _user_packages(self, request: Request) -> Response:
        return self._packages(request, is_org=False)

    def _packages(self, request: Request, *, is_org: bool) -> Response:
        caller = self._caller(request)
        if caller is None:
            return Response.json({"message": "Requires authentication"}, 401)
        if request.arg("package_type") != "container":
            return Response.json({"message": "Invalid argument: package_type"}, 400)
        owner = request.params["owner"]
        if (owner in self.orgs) != is_org or (not is_org and owner not in self.users):
            return Response.json({"message": "Not Found"}, 404)
        packages = [
            {
                "id": number,
                "name": name.split("/", 1)[1],
                "package_type": "container",
                "owner": {"login": owner, "type": "Organization" if is_org else "User"},
                "visibility": "private" if name in self.private else "public",
            }
            for number, name in enumerate(self.registry.upstream_repositories(), start=1)
            if name.startswith(f"{owner}/") and "pull" in self._may(caller, name)
        ]
        page = self._page_of(request, packages)
        headers = {}
        if page.has(page.number + 1):
            links = [
                f'<{page_url(request, number, self.api.url, per_page=page.size)}>; rel="{relation}"'
                for relation, number in (("next", page.number + 1), ("last", page.last))
            ]
            headers["Link"] = ", ".join(links)
        return Response.json(page.items, headers=headers)
