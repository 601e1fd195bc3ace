"""GitLab at the HTTP level: the REST API v4's registry endpoints and the JWT-issuing registry.

Two hosts, as on gitlab.com: the GitLab instance and its registry. The instance serves
(docs.gitlab.com "Container registry API", "Projects API"):

- ``GET /jwt/auth``: the registry's token realm (basic: user name + access token);
- ``GET /api/v4/projects?membership=true``; ``GET /api/v4/projects/:id/registry/repositories``
  (``id``, ``name``, ``path``, ``project_id``, ``location``) and
  ``.../registry/repositories/:repository_id/tags`` (``name``, ``path``, ``location``),
  ``:id`` a number or a URL-encoded path; paged with ``per_page``/``page``, answered with
  ``X-Page``, ``X-Next-Page``, ``X-Total`` and a ``Link`` header; 401
  ``{"message": "401 Unauthorized"}`` without a valid token (``PRIVATE-TOKEN`` header or
  bearer), 404 ``{"message": "404 Project Not Found"}``.

The registry's repositories are the real registry's whose path is a project's path or
below it; a project's members pull and push there.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote

from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    AccountsEmulator,
    Request,
    Response,
    VendorServer,
    page_url,
)

_PROJECT = r"/api/v4/projects/(?P<project>[^/]+)"


class GitlabEmulator(AccountsEmulator):
    """GitLab over ``upstream``: ``users`` map to access tokens, ``projects`` ids to paths,
    ``members`` users to the project ids they belong to."""

    default_page_size = 20

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        users: Mapping[str, str],
        projects: Mapping[int, str],
        members: Mapping[str, Collection[int]],
        max_page_size: int = 100,
    ) -> None:
        super().__init__(upstream, users=users, max_page_size=max_page_size)
        self.projects = dict(projects)
        self.members = {user: set(ids) for user, ids in members.items()}
        self.gitlab = VendorServer("gitlab")
        gate = self._token_realm(self.gitlab, "/jwt/auth", "container_registry")
        self.gitlab.route("GET", r"/api/v4/projects", self._list_projects)
        self.gitlab.route("GET", rf"{_PROJECT}/registry/repositories", self._list_repositories)
        self.gitlab.route(
            "GET",
            rf"{_PROJECT}/registry/repositories/(?P<repository>\d+)/tags",
            self._list_tags,
        )
        self.registry = VendorServer("registry.gitlab", upstream=upstream.url, gate=gate)

    def _project_of(self, repository: str) -> int | None:
        for project_id, path in sorted(self.projects.items(), key=lambda p: -len(p[1])):
            if repository == path or repository.startswith(f"{path}/"):
                return project_id
        return None

    def _may(self, subject: str, resource: str) -> Collection[str]:
        project = self._project_of(resource)
        if project is not None and project in self.members.get(subject, set()):
            return ("pull", "push")
        return ()

    # -- API ------------------------------------------------------------------------------

    def _caller(self, request: Request) -> str | None:
        token = request.headers.get("PRIVATE-TOKEN") or request.bearer
        return next((user for user, known in self.users.items() if known == token), None)

    def _project(self, request: Request) -> tuple[str, int] | Response:
        caller = self._caller(request)
        if caller is None:
            return Response.json({"message": "401 Unauthorized"}, 401)
        key = unquote(request.params["project"])
        project_id = (
            int(key)
            if key.isdigit()
            else next((i for i, path in self.projects.items() if path == key), None)
        )
        if project_id not in self.projects or project_id not in self.members.get(caller, set()):
            return Response.json({"message": "404 Project Not Found"}, 404)
        return caller, project_id

    def _list_projects(self, request: Request) -> Response:
        caller = self._caller(request)
        if caller is None:
            return Response.json({"message": "401 Unauthorized"}, 401)
        mine = sorted(self.members.get(caller, set()))
        listed = [
            {"id": i, "path_with_namespace": self.projects[i], "container_registry_enabled": True}
            for i in mine
        ]
        return self._page(request, listed)

    def _repositories(self) -> list[tuple[int, str]]:
        return list(enumerate(self.registry.upstream_repositories(), start=1))

    def _list_repositories(self, request: Request) -> Response:
        found = self._project(request)
        if isinstance(found, Response):
            return found
        _, project_id = found
        listed = [
            {
                "id": repository_id,
                "name": path.removeprefix(self.projects[project_id]).lstrip("/"),
                "path": path,
                "project_id": project_id,
                "location": f"{self.registry.host}/{path}",
            }
            for repository_id, path in self._repositories()
            if self._project_of(path) == project_id
        ]
        return self._page(request, listed)

    def _list_tags(self, request: Request) -> Response:
        found = self._project(request)
        if isinstance(found, Response):
            return found
        _, project_id = found
        wanted = int(request.params["repository"])
        path = dict(self._repositories()).get(wanted)
        if path is None or self._project_of(path) != project_id:
            return Response.json({"message": "404 Repository Not Found"}, 404)
        listed = [
            {"name": tag, "path": f"{path}:{tag}", "location": f"{self.registry.host}/{path}:{tag}"}
            for tag in self.registry.upstream_tags(path) or []
        ]
        return self._page(request, listed)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        page = self._page_of(request, items)
        headers = {
            "X-Page": str(page.number),
            "X-Per-Page": str(page.size),
            "X-Total": str(page.total),
        }
        if page.has(page.number + 1):
            headers["X-Next-Page"] = str(page.number + 1)
            headers["Link"] = f'<{page_url(request, page.number + 1, self.gitlab.url)}>; rel="next"'
        return Response.json(page.items, headers=headers)
