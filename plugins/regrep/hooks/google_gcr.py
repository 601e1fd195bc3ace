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

import json
from collections import deque
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk.log import mask_secret

from regrep.hooks.base import ConnectionConfigError, RegistryEndpoint, RegistryHook
from regrep.registry import RegistryClient
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import DEFAULT_PAGE_SIZE
from regrep.registry.errors import Forbidden, NotFound, Operation, RegistryError, Unauthorized

JSON_KEY_USER = "_json_key"


class GcrClient(RegistryClient):
    """A registry client for one Google project's repositories."""

    def __init__(
        self,
        url: str,
        *,
        project: str,
        key: str,
        verify: bool = True,
        ca_bundle: str | None = None,
        name: str | None = None,
        stop: Cancellation | None = None,
    ) -> None:
        super().__init__(
            url,
            username=JSON_KEY_USER,
            password=key,
            verify=verify,
            ca_bundle=ca_bundle,
            name=name,
            stop=stop,
        )
        self.project = project
        # Artifact Registry hosts are <location>-docker.pkg.dev.
        self.artifact_registry = (urlsplit(self.url).hostname or "").endswith("-docker.pkg.dev")

    def ping(self) -> None:
        """Check the API and the key, then that the key may read the project."""
        super().ping()
        self._listing(self.project)

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """The project's repositories from the catalog, or walked when it names none."""
        prefix = f"{self.project}/"
        try:
            listed = [
                name
                for name in super().list_repositories(page_size=page_size)
                if name.startswith(prefix)
            ]
        except (NotFound, Forbidden, Unauthorized):
            listed = []  # a key may not list the catalog; the walk needs only pull
        yield from listed or self._walk()

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

    def _walk(self) -> Iterator[str]:
        """Every repository below the project, breadth first by GCR's ``child`` lists."""
        pending = deque([self.project])
        found = []
        while pending:
            path = pending.popleft()
            listing = self._listing(path)
            if listing.get("tags") and path != self.project:
                found.append(path)
            pending.extend(f"{path}/{child}" for child in listing.get("child") or [])
        yield from sorted(found)

    def _listing(self, path: str) -> dict[str, Any]:
        """GCR's tag listing of ``path`` (tags, ``child`` paths); empty when absent."""
        op = Operation("GET", f"/v2/{path}/tags/list", "pull", path, f"repository {path}")
        try:
            with self._exchange.send(op, self._pull(path)) as response:
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


def read_key(conn_id: str, text: str) -> dict[str, Any]:
    """The service-account key, checked for what the registry and regrep need.

    Errors never quote the text: it holds a private key.
    """
    try:
        key: Any = json.loads(text)
    except ValueError:
        key = None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise ConnectionConfigError(
            f"connection {conn_id!r}: the secret is not a service-account JSON key file; "
            "paste the whole file downloaded from the Cloud console"
        )
    if isinstance(key.get("private_key"), str):
        mask_secret(key["private_key"])
    return key


class GoogleGcrHook(RegistryHook):
    """Google Container Registry or Artifact Registry (Harbor's "Google GCR")."""

    conn_type = "regrep_google_gcr"
    hook_name = "Google GCR / Artifact Registry (regrep)"

    def get_endpoint(self) -> RegistryEndpoint:
        """The key comes from the secret field or the ``keyfile_dict`` extra; the user
        name is always ``_json_key``."""
        endpoint = super().get_endpoint()
        if endpoint.username not in (None, JSON_KEY_USER):
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: the user name of a JSON key is "
                f"{JSON_KEY_USER!r}, not {endpoint.username!r}"
            )
        pasted = endpoint.extra.get("keyfile_dict")
        if isinstance(pasted, dict):
            pasted = json.dumps(pasted)
        key = endpoint.password or (str(pasted) if pasted else None)
        if not key:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: Google registries need the service account's "
                "JSON key as the secret"
            )
        return replace(endpoint, username=JSON_KEY_USER, password=key)

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        key = read_key(endpoint.name, endpoint.password or "")
        project = str(endpoint.extra.get("project_id") or key.get("project_id") or "")
        if not project:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: the JSON key names no project_id; set the "
                "'project_id' extra"
            )
        return GcrClient(
            endpoint.url,
            project=project,
            key=endpoint.password or "",
            verify=endpoint.verify,
            ca_bundle=endpoint.ca_bundle,
            name=endpoint.name,
            stop=stop,
        )
