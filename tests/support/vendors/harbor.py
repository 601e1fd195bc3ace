"""Harbor 2.x at the HTTP level: its REST API v2.0 and its token-authenticated registry.

The API follows the Harbor API v2.0 swagger (``/api/v2.0``, basic credentials):

- ``GET /systeminfo`` (``harbor_version`` for authenticated callers only); a Harbor 1.x
  (``version="v1.10.17"``) has no ``/api/v2.0`` and answers ``GET /api/systeminfo``;
- ``GET /projects`` and ``GET /projects/{project}/repositories``, paged with ``page`` and
  ``page_size`` (capped by ``max_page_size``), ``X-Total-Count`` and a ``Link`` header with
  Harbor's ``rel="prev"`` / ``rel="next"`` entries; anonymous callers see public projects;
- ``HEAD /projects?project_name=`` (200 or 404);
- ``POST /projects`` ``{"project_name", "metadata": {"public": "false"}}``: 201 with a
  ``Location``, 409 when it exists, 403 when only admins may create projects
  (``creation_restricted``) and the caller is not one, 401 anonymously;
- ``GET /projects/{project}/repositories/{repository}/artifacts`` (the repository path
  URL-encoded twice, as Harbor requires) with ``with_tag``/``with_label``: one entry per
  digest with its ``tags`` and ``labels`` (set with :meth:`HarborEmulator.label`), and the
  artifacts pushed by digest alone with ``"tags": null`` (declared with
  :meth:`HarborEmulator.keep_untagged`: the registry behind cannot list them, Harbor's
  database can).
  Errors are Harbor's ``{"errors": [{"code", "message"}]}``.

``/v2/`` is a distribution registry behind Harbor's token service (``/service/token``):
pull from public projects or as a member, push as a member (a project's creator is one)
or admin, nothing in a project that does not exist, the catalog for admins only.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.support.images import MANIFEST_ACCEPT
from tests.support.launch import plain_session
from tests.support.registries import RunningRegistry
from tests.support.vendors.base import (
    AccountsEmulator,
    Request,
    Response,
    VendorServer,
    page_url,
)

API = "/api/v2.0"
_PROJECT = r"(?P<project>[^/]+)"


def _error(status: int, code: str, message: str) -> Response:
    return Response.json({"errors": [{"code": code, "message": message}]}, status)


@dataclass
class Project:
    """A Harbor project: its id, visibility, members (who may push) and creation body."""

    project_id: int
    public: bool
    members: set[str] = field(default_factory=set)
    created_with: dict[str, Any] | None = None


class HarborEmulator(AccountsEmulator):
    """Harbor in front of the plain registry ``upstream``; ``users`` maps names to passwords."""

    page_size_param = "page_size"

    def __init__(
        self,
        upstream: RunningRegistry,
        *,
        users: Mapping[str, str],
        admins: Collection[str] = (),
        version: str = "v2.11.0-8f1c8d3a",
        creation_restricted: bool = False,
        max_page_size: int = 100,
    ) -> None:
        super().__init__(upstream, users=users, max_page_size=max_page_size)
        self.admins = set(admins)
        self.version = version
        self.creation_restricted = creation_restricted
        self.projects: dict[str, Project] = {}
        self.labels: dict[tuple[str, str], list[str]] = {}
        self.untagged: dict[str, list[str]] = {}  # repository -> digests without a tag
        self._ids = itertools.count(1)
        self.server = VendorServer("harbor", upstream=upstream.url)
        self.server.gate = self._token_realm(self.server, "/service/token", "harbor")
        route = self.server.route
        if version.startswith("v1."):
            route("GET", r"/api/systeminfo", self._systeminfo)
            return
        route("GET", rf"{API}/systeminfo", self._systeminfo)
        route("GET", rf"{API}/projects", self._list_projects)
        route("HEAD", rf"{API}/projects", self._project_exists)
        route("POST", rf"{API}/projects", self._create_project)
        route("GET", rf"{API}/projects/{_PROJECT}/repositories", self._list_repositories)
        route(
            "GET",
            rf"{API}/projects/{_PROJECT}/repositories/(?P<repository>[^/]+)/artifacts",
            self._list_artifacts,
        )

    @property
    def url(self) -> str:
        return self.server.url

    def add_project(self, name: str, *, public: bool = False, members: Sequence[str] = ()) -> None:
        """Create a project directly, as an administrator would in Harbor's UI."""
        self.projects[name] = Project(next(self._ids), public, set(members))

    def label(self, repository: str, digest: str, *names: str) -> None:
        """Attach labels to an artifact (Harbor's "Add labels")."""
        self.labels.setdefault((repository, digest), []).extend(names)

    def keep_untagged(self, repository: str, digest: str) -> None:
        """Know of a manifest pushed to the upstream by digest alone, as Harbor records
        every push: it is listed as an artifact without tags."""
        self.untagged.setdefault(repository, []).append(digest)

    # -- accounts -------------------------------------------------------------------------

    def _may(self, subject: str, resource: str) -> Collection[str]:
        """Harbor's project roles: members push, everyone pulls a public project."""
        if subject in self.admins:
            return ("*",)
        project = self.projects.get(resource.split("/", 1)[0])
        if project is None:
            return ()
        if subject and subject in project.members:
            return ("pull", "push")
        return ("pull",) if project.public else ()

    def _visible(self, subject: str) -> list[tuple[str, Project]]:
        return sorted(
            (name, project)
            for name, project in self.projects.items()
            if project.public or subject in self.admins or subject in project.members
        )

    # -- API ------------------------------------------------------------------------------

    def _systeminfo(self, request: Request) -> Response:
        info: dict[str, Any] = {"auth_mode": "db_auth", "registry_url": self.server.host}
        if self._account(request):
            info["harbor_version"] = self.version
        return Response.json(info)

    def _list_projects(self, request: Request) -> Response:
        subject = self._account(request)
        if subject is None:
            return _error(401, "UNAUTHORIZED", "unauthorized")
        listed = [
            {
                "project_id": p.project_id,
                "name": name,
                "metadata": {"public": str(p.public).lower()},
            }
            for name, p in self._visible(subject)
        ]
        return self._page(request, listed)

    def _project_exists(self, request: Request) -> Response:
        if self._account(request) is None:
            return _error(401, "UNAUTHORIZED", "unauthorized")
        return Response(200 if request.arg("project_name") in self.projects else 404)

    def _create_project(self, request: Request) -> Response:
        subject = self._account(request)
        if not subject:
            return _error(401, "UNAUTHORIZED", "unauthorized")
        if self.creation_restricted and subject not in self.admins:
            return _error(403, "FORBIDDEN", "Only system admin can create project")
        body = request.json()
        name = body.get("project_name")
        if not isinstance(name, str) or not name:
            return _error(400, "BAD_REQUEST", "project_name is required")
        if name in self.projects:
            return _error(409, "CONFLICT", f"The project named {name} already exists")
        public = str((body.get("metadata") or {}).get("public", "false")).lower() == "true"
        project = Project(next(self._ids), public, {subject}, body)
        self.projects[name] = project
        return Response(201, headers={"Location": f"{API}/projects/{project.project_id}"})

    def _list_repositories(self, request: Request) -> Response:
        subject = self._account(request)
        if subject is None:
            return _error(401, "UNAUTHORIZED", "unauthorized")
        name = request.params["project"]
        project = self.projects.get(name)
        if project is None or not self._may(subject, f"{name}/x"):
            return _error(404, "NOT_FOUND", f"project {name} not found")
        listed = [
            {"id": i, "name": repository, "project_id": project.project_id}
            for i, repository in enumerate(self.server.upstream_repositories(), start=1)
            if repository.startswith(f"{name}/")
        ]
        return self._page(request, listed)

    def _list_artifacts(self, request: Request) -> Response:
        subject = self._account(request)
        if subject is None:
            return _error(401, "UNAUTHORIZED", "unauthorized")
        once = unquote(request.params["repository"])
        if "/" in once:  # encoded once only: Harbor's router sees a/b and finds no route
            return _error(404, "NOT_FOUND", "repository path must be URL-encoded twice")
        repository = f"{request.params['project']}/{unquote(once)}"
        if not self._may(subject, repository):
            return _error(404, "NOT_FOUND", f"repository {repository} not found")
        artifacts: dict[str, dict[str, Any]] = {}
        for tag in self.server.upstream_tags(repository) or []:
            digest, media_type = self._upstream_head(repository, tag)
            entry = artifacts.setdefault(
                digest,
                {"digest": digest, "manifest_media_type": media_type, "type": "IMAGE", "tags": []},
            )
            if request.arg("with_tag", "true") == "true":
                entry["tags"].append({"name": tag})
        for digest in self.untagged.get(repository, []):
            media_type = self._upstream_head(repository, digest)[1]
            artifacts.setdefault(
                digest,
                {
                    "digest": digest,
                    "manifest_media_type": media_type,
                    "type": "IMAGE",
                    "tags": None,
                },
            )
        for digest, entry in artifacts.items():
            if request.arg("with_label") == "true":
                entry["labels"] = [
                    {"name": name, "scope": "g"}
                    for name in self.labels.get((repository, digest), [])
                ]
        return self._page(request, list(artifacts.values()))

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """One page of ``items`` with Harbor's ``X-Total-Count`` and ``Link`` headers."""
        page = self._page_of(request, items)
        links = [
            f'<{page_url(request, number, page_size=page.size)}>; rel="{relation}"'
            for relation, number in (("prev", page.number - 1), ("next", page.number + 1))
            if number >= 1 and (relation == "prev" or page.has(number))
        ]
        headers = {"X-Total-Count": str(page.total)}
        if links:
            headers["Link"] = " , ".join(links)
        return Response.json(page.items, headers=headers)

    # -- the registry behind --------------------------------------------------------------

    def _upstream_head(self, repository: str, tag: str) -> tuple[str, str]:
        with plain_session(True) as session:
            answer = session.head(
                f"{self.upstream.url}/v2/{repository}/manifests/{tag}",
                headers={"Accept": MANIFEST_ACCEPT},
                timeout=30,
            )
        return answer.headers["Docker-Content-Digest"], answer.headers["Content-Type"]
