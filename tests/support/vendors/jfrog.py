"""JFrog Artifactory at the HTTP level: its repositories API and per-key Docker catalogs.

Follows the JFrog REST API: ``GET /artifactory/api/repositories?packageType=docker``
answers ``[{"key", "type", "packageType", "url"}]``; ``GET /artifactory/api/docker/<key>
/v2/_catalog`` answers a distribution catalog of that repository's images (``n``/``last``,
``Link`` to the next page under the same path; ``n`` capped by ``max_page_size``), 404 for
an unknown key. Both take basic
credentials (401 with a ``Basic`` challenge otherwise), as the registry does: Docker
content is reached as ``/v2/<key>/<image>/...`` (the repository path method) in front of
a real registry, where ``<key>/<image>`` is the image's name.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from urllib.parse import urlencode

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import BasicGate, HostedEmulator, Request, Response

_CHALLENGE = {"WWW-Authenticate": 'Basic realm="Artifactory Realm"'}


class JfrogEmulator(HostedEmulator):
    """Artifactory over ``upstream`` with Docker repositories ``keys``; ``users`` map to
    passwords."""

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        users: Mapping[str, str],
        keys: Collection[str],
        max_page_size: int = 100,
    ) -> None:
        super().__init__("artifactory", upstream)
        self.max_page_size = max_page_size
        self.users = dict(users)
        self.keys = sorted(keys)
        self.server.gate = BasicGate(self._authenticate)
        self.server.route("GET", r"/artifactory/api/repositories", self._repositories)
        self.server.route(
            "GET", r"/artifactory/api/docker/(?P<key>[^/]+)/v2/_catalog", self._catalog
        )

    def _authenticate(self, user: str, password: str) -> str | None:
        return user if self.users.get(user) == password else None

    def _authorized(self, request: Request) -> bool:
        return request.basic is not None and self._authenticate(*request.basic) is not None

    def _repositories(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.json({"errors": [{"status": 401, "message": "Unauthorized"}]}, 401)
        wanted = (request.arg("packageType") or "").lower()
        return Response.json(
            [
                {
                    "key": key,
                    "type": "LOCAL",
                    "packageType": "Docker",
                    "url": f"{self.url}/artifactory/{key}",
                }
                for key in self.keys
                if wanted in ("", "docker")
            ]
        )

    def _catalog(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response.registry_error(
                401, "UNAUTHORIZED", "authentication required", _CHALLENGE
            )
        key = request.params["key"]
        if key not in self.keys:
            return Response.registry_error(404, "NAME_UNKNOWN", f"repository {key} not found")
        images = [
            name.split("/", 1)[1]
            for name in self.server.upstream_repositories()
            if name.startswith(f"{key}/")
        ]
        last = request.arg("last")
        size = min(int(request.arg("n", "100") or 100), self.max_page_size)
        remaining = [image for image in images if last is None or image > last]
        page = remaining[:size]
        headers = {}
        if len(remaining) > size:
            query = urlencode({"last": page[-1], "n": size})
            headers["Link"] = f'<{request.path}?{query}>; rel="next"'
        return Response.json({"repositories": page}, headers=headers)
