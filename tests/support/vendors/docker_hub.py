"""Docker Hub at the HTTP level: the Hub API, the token service and the registry, three hosts.

Like Docker Hub, three servers (``hub.docker.com``, ``auth.docker.io``,
``registry-1.docker.io``), following docs.docker.com/reference/api/hub/latest and the
distribution token spec:

- **Hub API**: ``POST /v2/auth/token`` ``{"identifier", "secret"}`` -> ``{"access_token"}``
  (401 ``{"detail", "message"}`` otherwise); ``GET /v2/namespaces/{namespace}/repositories``
  and ``.../repositories/{repository}/tags`` paged with ``page``/``page_size`` (capped by
  ``max_page_size``) answering ``{"count", "next", "previous", "results"}`` with absolute
  ``next``/``previous`` URLs; private repositories only for their namespace's owner; 404
  for an unknown namespace or repository.
- **token service** ``GET /token?service=registry.docker.io&scope=...``: anonymous pulls of
  public repositories; an account pushes in namespaces it owns (``owners``).
- **registry**: the token flow in front of a real registry. :meth:`DockerHubEmulator.throttle`
  makes the next requests answer 429 ``TOOMANYREQUESTS`` with Docker Hub's
  ``RateLimit-Limit``/``RateLimit-Remaining`` headers, with or without ``Retry-After``.

Repositories are whatever the real registry holds; ``private`` marks some private.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Unpack

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    Accounts,
    AccountsEmulator,
    Request,
    Response,
    TokenStore,
    VendorServer,
    page_url,
)

SERVICE = "registry.docker.io"
_NAMESPACE = r"(?P<namespace>[^/]+)"


class DockerHubEmulator(AccountsEmulator):
    """Docker Hub over ``upstream``: ``users`` maps Docker IDs to access tokens, ``owners``
    each namespace to the Docker IDs that own it (a user owns its own namespace)."""

    owner_actions = ("pull", "push", "delete")

    page_size_param = "page_size"

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        owners: Mapping[str, Collection[str]] | None = None,
        **accounts: Unpack[Accounts],
    ) -> None:
        super().__init__(upstream, **accounts)
        self.owners = {user: {user} for user in self.users} | {
            ns: set(ids) for ns, ids in (owners or {}).items()
        }
        self.hub_tokens = TokenStore(ttl=600)  # the Hub API's tokens live 10 minutes
        self._throttled: list[dict[str, str]] = []
        self.auth = VendorServer("auth.docker.io")
        self._bearer = self._token_realm(self.auth, "/token", SERVICE)
        self.registry = VendorServer("registry-1.docker.io", upstream=upstream.url)
        self.registry.gate = self._gate
        self.hub = VendorServer("hub.docker.com")
        self.hub.route("POST", r"/v2/auth/token", self._create_token)
        self.hub.route("GET", rf"/v2/namespaces/{_NAMESPACE}/repositories", self._repositories)
        self.hub.route(
            "GET",
            rf"/v2/namespaces/{_NAMESPACE}/repositories/(?P<repository>[^/]+)/tags",
            self._tags,
        )

    def throttle(self, count: int, *, retry_after: int | None) -> None:
        """Answer the next ``count`` registry requests 429: with ``Retry-After`` when given,
        else as the pull limit does, with ``RateLimit-Remaining: 0``."""
        headers = {"RateLimit-Limit": "100;w=21600", "Docker-RateLimit-Source": "127.0.0.1"}
        if retry_after is None:
            headers["RateLimit-Remaining"] = "0;w=21600"
        else:
            headers["Retry-After"] = str(retry_after)
        self._throttled.extend(dict(headers) for _ in range(count))

    # -- accounts -------------------------------------------------------------------------

    def _owns(self, subject: str, namespace: str) -> bool:
        return subject in self.owners.get(namespace, set())

    def _gate(self, request: Request) -> Response | None:
        if self._throttled:
            headers = self._throttled.pop(0)
            return Response.registry_error(
                429,
                "TOOMANYREQUESTS",
                "You have reached your pull rate limit. You may increase the limit by "
                "authenticating and upgrading: https://www.docker.com/increase-rate-limit",
                headers,
            )
        return self._bearer(request)

    # -- Hub API --------------------------------------------------------------------------

    def _create_token(self, request: Request) -> Response:
        body = request.json()
        user, secret = body.get("identifier"), body.get("secret")
        if not isinstance(user, str) or self.users.get(user) != secret:
            return Response.json(
                {"detail": "Incorrect authentication credentials", "message": "unauthorized"},
                401,
            )
        return Response.json({"access_token": self.hub_tokens.issue(user).value})

    def _caller(self, request: Request) -> str | None:
        """The Docker ID of a Hub API bearer token, "" when anonymous, None when invalid."""
        if request.bearer is None:
            return None if "Authorization" in request.headers else ""
        grant = self.hub_tokens.lookup(request.bearer)
        return grant.subject if grant is not None else None

    def _repositories(self, request: Request) -> Response:
        caller = self._caller(request)
        if caller is None:
            return Response.json({"detail": "token is invalid", "message": "unauthorized"}, 401)
        namespace = request.params["namespace"]
        names = [
            repository.split("/", 1)[1]
            for repository in self.registry.upstream_repositories()
            if repository.startswith(f"{namespace}/")
            and repository.count("/") == 1
            and "pull" in self._may(caller, repository)
        ]
        if not names and namespace not in self.owners:
            return Response.json({"detail": "Not Found", "message": "not found"}, 404)
        results = [{"name": n, "namespace": namespace, "repository_type": "image"} for n in names]
        return self._page(request, results)

    def _tags(self, request: Request) -> Response:
        caller = self._caller(request)
        if caller is None:
            return Response.json({"detail": "token is invalid", "message": "unauthorized"}, 401)
        repository = f"{request.params['namespace']}/{request.params['repository']}"
        if "pull" not in self._may(caller, repository):
            return Response.json({"detail": "Not Found", "message": "not found"}, 404)
        tags = self.registry.upstream_tags(repository)
        if tags is None:
            return Response.json({"detail": "Not Found", "message": "not found"}, 404)
        return self._page(request, [{"name": tag, "repository": repository} for tag in tags])

    def _page(self, request: Request, results: list[dict[str, Any]]) -> Response:
        page = self._page_of(request, results)

        def link(number: int) -> str | None:
            if not page.has(number):
                return None
            return page_url(request, number, self.hub.url, page_size=page.size)

        return Response.json(
            {
                "count": page.total,
                "next": link(page.number + 1),
                "previous": link(page.number - 1),
                "results": page.items,
            }
        )
