"""Google Container Registry and Artifact Registry endpoints: a service-account JSON key.

"Authentication methods" (GCR / Artifact Registry docs): the user name is ``_json_key`` and
the password the whole JSON key file, offered at the Docker token realm (``/v2/token``);
the shared bearer flow does the rest and renews the short-lived access tokens. What
differs from a plain registry, as in Harbor's ``googlegcr``/``googlegar`` adapters:

- Repositories live under the project: ``gcr.io/<project>/...``, and on Artifact Registry
  ``<region>-docker.pkg.dev/<project>/<repository>/...``. The project comes from the key's
  ``project_id`` (or the ``project_id`` extra); a destination outside it is refused before
  any upload, naming the namespace to use.
- The catalog may be empty for a key (it lists only what the account may list, and
  nothing on some registries), so listing falls back to GCR's hierarchical tag listing:
  ``/v2/<path>/tags/list`` names the ``child`` paths below any path, walked from the
  project down.
- Nothing needs creating on GCR (a push creates the repository); an Artifact Registry
  repository must exist, which the registry API cannot do.
- The connection test also lists the project, so a key without access to it is reported
  as "no permission", not found out by the first replication.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from regrep.registry.auth import repository_scope
from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.errors import Forbidden, NotFound, Operation, RegistryError, Unauthorized
from regrep.registry.provider import Provider

JSON_KEY_USER = "_json_key"


class GcrProject:
    """The repositories of one Google project in GCR or Artifact Registry at ``url``."""

    def __init__(self, url: str, name: str, project: str) -> None:
        self.url, self.name, self.project = url, name, project
        # Artifact Registry hosts are <location>-docker.pkg.dev.
        self.artifact_registry = (urlsplit(url).hostname or "").endswith("-docker.pkg.dev")

    def provider(self) -> Provider:
        """Listing by walking the project, destinations checked against it."""
        return Provider(
            name="Google GCR",
            list_repositories=self.list_repositories,
            ensure_namespace=self.ensure_namespace,
            check=self.check,
        )

    def check(self, registry: RegistryClient) -> None:
        """The key may read the project (a connection test's second half)."""
        self._listing(registry, self.project)

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The project's repositories from the catalog, or walked when it names none."""
        prefix = f"{self.project}/"
        try:
            listed = [n for n in registry.catalog(page_size=page_size) if n.startswith(prefix)]
        except (NotFound, Forbidden, Unauthorized):
            listed = []  # a key may not list the catalog; the walk needs only pull
        yield from listed or self._walk(registry)

    def ensure_namespace(self, repository: str) -> None:
        """Refuse a destination outside the project; GCR creates the rest on push."""
        parts = repository.split("/")
        if parts[0] != self.project or len(parts) < (3 if self.artifact_registry else 2):
            where = (
                f"{self.project}/<Artifact Registry repository>/<image>, and the Artifact "
                "Registry repository must exist (create it in the Cloud console or with gcloud)"
                if self.artifact_registry
                else f"{self.project}/<image>"
            )
            raise RegistryError(
                f"endpoint {self.name} cannot hold {repository!r}: its repositories are "
                f"{where}; set the rule's destination namespace to start with "
                f"{self.project!r}",
                endpoint=self.name,
                repository=repository,
            )

    def _walk(self, registry: RegistryClient) -> Iterator[str]:
        """Every repository below the project, breadth first by GCR's ``child`` lists."""
        pending = deque([self.project])
        found = []
        while pending:
            path = pending.popleft()
            listing = self._listing(registry, path)
            if listing.get("tags") and path != self.project:
                found.append(path)
            pending.extend(f"{path}/{child}" for child in listing.get("child") or [])
        yield from sorted(found)

    def _listing(self, registry: RegistryClient, path: str) -> dict[str, Any]:
        """GCR's tag listing of ``path`` (tags, ``child`` paths); empty when absent."""
        op = Operation("GET", f"/v2/{path}/tags/list", "pull", path, f"repository {path}")
        try:
            with registry.exchange.send(op, (repository_scope(path, "pull"),)) as response:
                body: Any = response.json()
        except NotFound:
            return {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise RegistryError(
                f"endpoint {self.name} answered the listing of {path} with a body that is "
                "not GCR's JSON tag listing",
                endpoint=self.name,
                repository=path,
            )
        return body
