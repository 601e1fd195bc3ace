"""Harbor 2.x: listing, labels and project creation through Harbor's API v2.0.

Harbor's ``/v2/`` is a distribution registry behind Harbor's token service, which the
distribution client already speaks. What differs is what Harbor's own replication adapter
(goharbor/harbor ``src/pkg/reg/adapter/harbor``) does through the REST API (Harbor API
v2.0 swagger, basic credentials):

- the version check, ``GET /api/v2.0/systeminfo``: replication between different major
  versions is not supported, so anything but Harbor 2.x is refused with a clear message;
- listing: projects (``GET /projects``, paged with ``page``/``page_size`` and a ``Link``
  header), then each project's repositories, instead of the catalog;
- artifacts, for the label filter and untagged artifacts:
  ``GET /projects/{p}/repositories/{r}/artifacts`` with ``with_tag=true`` and
  ``with_label=true`` (a repository path in a URL is URL-encoded twice), one listing per
  repository giving each artifact's labels and whether it has tags (Harbor's replication
  copies an artifact without tags by digest);
- namespaces: pushing needs the project to exist, so ``ensure_namespace`` creates a
  private one (``POST /projects``), after checking with ``HEAD /projects?project_name=``
  that it is missing: Harbor checks the right to create projects before existence.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.credentials import basic_authorization
from regrep.registry.errors import ConnectionConfigError, Forbidden, NotFound
from regrep.registry.exchange import Exchange
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.rules import patterns
from regrep.vendors.vendor_api import VendorAPI

V2 = "/v2.0"  # below /api: Harbor 2.x serves API v2.0 there, 1.x the unversioned API
API_PAGE_SIZE = 100  # Harbor caps page_size at 100


@dataclass(frozen=True)
class _Artifact:
    """What Harbor's artifact listing tells of one artifact."""

    labels: frozenset[str]
    tagged: bool


def _encoded_repository(name: str) -> str:
    """A repository path inside an API URL: ``a/b`` -> ``a%252Fb`` (Harbor API docs)."""
    return quote(quote(name, safe=""), safe="")


class HarborApi:
    """Harbor's API v2.0 next to the registry at ``url``: the strategies of its
    :class:`~regrep.registry.provider.Provider`."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        name: str,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.url, self.name, self.username = url, name, username
        basic = basic_authorization(username, password)
        self._api = VendorAPI(
            transport,
            url + "/api",
            endpoint=name,
            anonymous=basic is None,
            authorization=lambda: basic,
        )
        self._lock = threading.Lock()
        self._version_checked = False
        self._projects: set[str] = set()  # known to exist
        self._artifacts: dict[str, dict[str, _Artifact]] = {}  # repository -> digest -> it
        self._listing_locks: dict[str, threading.Lock] = {}

    def provider(self) -> Provider:
        """Harbor's differences from the distribution API."""
        return Provider(
            name="Harbor",
            list_repositories=self.list_repositories,
            ensure_namespace=self.ensure_namespace,
            absent_when_refused=self.project_missing,
            artifact_labels=self.artifact_labels,
            untagged_digests=self.untagged_digests,
            check=lambda registry: self._check_version(),
        )

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """Every repository of the projects the name filter can match (all when it is open).

        Anonymous access lists the public projects only, as in Harbor's UI.
        """
        self._check_version()
        projects = patterns.fixed_namespaces(name_pattern)
        if projects is None:
            listed = self._api.pages(
                f"{V2}/projects", target="the projects", params={"page_size": API_PAGE_SIZE}
            )
            projects = [str(project["name"]) for project in listed]
        for project in projects:
            try:
                for repository in self._api.pages(
                    f"{V2}/projects/{quote(project, safe='')}/repositories",
                    target=f"the repositories of project {project}",
                    params={"page_size": API_PAGE_SIZE},
                ):
                    yield str(repository["name"])
            except NotFound:
                continue  # a project the pattern names but the instance lacks

    def artifact_labels(self, repository: str, digest: str) -> set[str] | None:
        """The labels Harbor shows on the artifact ``digest`` of ``repository``.

        An artifact Harbor does not list (a child of an index) has no labels.
        """
        found = self._listed_artifacts(repository).get(digest)
        return set() if found is None else set(found.labels)

    def untagged_digests(self, repository: str) -> list[str]:
        """The artifacts of ``repository`` Harbor lists without a tag, by digest."""
        return sorted(
            digest
            for digest, artifact in self._listed_artifacts(repository).items()
            if not artifact.tagged
        )

    def _listed_artifacts(self, repository: str) -> dict[str, _Artifact]:
        """Harbor's artifact listing of ``repository``, read once per client.

        The planner asks about many tags at once: each repository is listed once.
        """
        with self._lock:
            listing = self._listing_locks.setdefault(repository, threading.Lock())
        with listing:
            known = self._artifacts.get(repository)
            if known is None:
                known = self._artifacts[repository] = self._list_artifacts(repository)
        return known

    def project_missing(self, repository: str) -> bool:
        """Whether the repository's project does not exist (yet).

        Harbor's token service grants nothing in a project that does not exist, so its
        registry refuses instead of answering 404; a destination's project is only created
        when the first copy into it starts.
        """
        return not self._project_exists(repository.partition("/")[0])

    def ensure_namespace(self, repository: str) -> None:
        """Create the repository's project, private, unless it exists."""
        project, slash, _ = repository.partition("/")
        if not slash:
            raise NotFound(
                f"repository {repository} has no project part, and Harbor keeps every "
                f"repository in a project (<project>/<name>): give the rule a "
                f"destination_namespace for endpoint {self.name}",
                endpoint=self.name,
                repository=repository,
            )
        if not self._project_exists(project):
            self._create_project(project, repository)
            with self._lock:
                self._projects.add(project)

    def _project_exists(self, project: str) -> bool:
        """``HEAD /projects?project_name=``; a project once seen is not asked about again."""
        with self._lock:
            if project in self._projects:
                return True
        self._check_version()
        with self._api.request(
            "HEAD",
            f"{V2}/projects",
            target=f"project {project}",
            params={"project_name": project},
            ok=(200, 404),
        ) as answer:
            exists = answer.status_code == 200
        if exists:
            with self._lock:
                self._projects.add(project)
        return exists

    def _create_project(self, project: str, repository: str) -> None:
        try:
            self._api.request(
                "POST",
                f"{V2}/projects",
                target=f"project {project}",
                action="push",
                repository=repository,
                document={"project_name": project, "metadata": {"public": "false"}},
                ok=(201, 409),  # 409: created meanwhile by another task
            ).close()
        except Forbidden as exc:
            account = repr(self.username) if self.username else "anonymous access"
            raise Forbidden(
                f"account {account} may not create project {project} on endpoint {self.name}: "
                "create it in Harbor, or use an account allowed to create projects",
                status=exc.status,
                endpoint=self.name,
                repository=repository,
                codes=exc.codes,
            ) from exc

    def _list_artifacts(self, repository: str) -> dict[str, _Artifact]:
        project, _, name = repository.partition("/")
        artifacts = self._api.pages(
            f"{V2}/projects/{quote(project, safe='')}/repositories/{_encoded_repository(name)}"
            "/artifacts",
            target=f"the artifacts of {repository}",
            params={"with_tag": "true", "with_label": "true", "page_size": API_PAGE_SIZE},
        )
        return {
            str(artifact["digest"]): _Artifact(
                labels=frozenset(str(label["name"]) for label in artifact.get("labels") or []),
                tagged=bool(artifact.get("tags")),
            )
            for artifact in artifacts
        }

    def _check_version(self) -> None:
        """Refuse, once per client, an endpoint that is not Harbor 2.x."""
        with self._lock:
            if self._version_checked:
                return
        version = self._system_version(V2)
        if version is None:
            older = self._system_version("")  # Harbor 1.x: the unversioned API
            runs = f"runs Harbor {older}" if older else "does not serve Harbor's API v2.0"
            raise ConnectionConfigError(
                f"connection {self.name!r}: {self.url} {runs} (GET /api{V2}/systeminfo "
                "failed): regrep supports Harbor 2.x only, whose API v2.0 it speaks (Harbor "
                "itself does not replicate between versions); for another registry use the "
                "matching connection type"
            )
        with self._lock:
            self._version_checked = True

    def _system_version(self, prefix: str) -> str | None:
        """``harbor_version`` from ``{prefix}/systeminfo``; None when that is not Harbor's.

        Harbor 2.x tells anonymous callers no version: an answer without one is "".
        """
        info = self._api.request(
            "GET",
            f"{prefix}/systeminfo",
            target="Harbor's system information",
            ok=(200, 401, 403, 404),
        )
        with info:
            try:
                body = info.json() if info.status_code == 200 else None
            except ValueError:
                body = None
        if not isinstance(body, dict):
            return None
        return str(body.get("harbor_version") or "")


def harbor_registry(
    exchange: Exchange, username: str | None, password: str | None
) -> RegistryClient:
    """The client of a Harbor instance: its registry, with its API's differences."""
    api = HarborApi(exchange.transport, exchange.url, exchange.name, username, password)
    return RegistryClient(exchange, api.provider())
