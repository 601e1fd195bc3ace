"""Docker Hub: its registry for content, the Docker Hub API for listing.

Docker Hub's registry (``registry-1.docker.io``) has no catalog, so listing goes through
the Docker Hub API (docs.docker.com/reference/api/hub/latest):
``GET /v2/namespaces/{namespace}/repositories`` and
``GET /v2/namespaces/{namespace}/repositories/{repository}/tags``, both paged with
``page``/``page_size`` (at most 100) and a ``next`` URL in the body. The API can only list
one namespace at a time, so a rule's name filter must name its namespaces (``library/*``
for official images, as in Harbor) unless the connection lists them (``namespaces``) or
has a Docker ID (its own namespace). With credentials, the API takes a short-lived bearer
token from ``POST /v2/auth/token`` (``identifier`` + ``secret``: the Docker ID and an access
token); anonymous callers see public repositories only.

The registry's token service (``auth.docker.io``) is found the standard way, from the
registry's ``WWW-Authenticate`` challenge, as docker does: anonymous pulls work, pushes need
the account. Throttling is the shared transport's: a 429 with ``Retry-After`` is retried
after that wait when short, one whose ``RateLimit-Remaining`` is 0 (the pull limit, refilled
over hours) is left to Airflow's task retry.

``hub_api_url`` (extra) points the API elsewhere, for tests and enterprise proxies; a
connection host that names Docker Hub (or none) means ``https://registry-1.docker.io``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk.log import mask_secret

from regrep.registry.client import DEFAULT_PAGE_SIZE, RegistryClient
from regrep.registry.errors import NotFound
from regrep.registry.provider import Provider
from regrep.registry.transport import Transport
from regrep.vendors.vendor_api import VendorAPI, body_next, namespaces_to_list

REGISTRY_URL = "https://registry-1.docker.io"
HUB_API_URL = "https://hub.docker.com"
HUB_HOSTS = frozenset(
    {
        "hub.docker.com",
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "registry.hub.docker.com",
    }
)
API_PAGE_SIZE = 100  # the API's maximum
TOKEN_RENEWAL = 9 * 60.0  # access tokens live 10 minutes; renew one early


class DockerHubApi:
    """The Docker Hub API at ``hub_api_url``, listing for the registry named ``name``.

    ``namespaces`` are listed when a rule's name filter names none (default: the Docker ID).
    """

    def __init__(
        self,
        transport: Transport,
        name: str,
        *,
        hub_api_url: str = HUB_API_URL,
        namespaces: Sequence[str] = (),
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.name = name
        self._account = (username, password) if username and password else None
        self._namespaces = tuple(namespaces) or ((username,) if username else ())
        self._login_api = VendorAPI(transport, hub_api_url, endpoint=name, anonymous=False)
        self._hub = VendorAPI(
            transport,
            hub_api_url,
            endpoint=name,
            anonymous=self._account is None,
            authorization=self._hub_authorization,
        )
        self._token: tuple[str, float] | None = None  # value, renew after (monotonic)
        self._token_lock = threading.Lock()

    def provider(self) -> Provider:
        """Docker Hub's differences from the distribution API."""
        return Provider(
            name="Docker Hub",
            list_repositories=self.list_repositories,
            list_tags=self.list_tags,
            ensure_namespace=self.ensure_namespace,
        )

    def list_repositories(
        self, registry: RegistryClient, name_pattern: str, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The repositories of the namespaces the name filter names, else the configured ones."""
        namespaces = namespaces_to_list(
            name_pattern,
            self._namespaces,
            f"connection {self.name!r}: Docker Hub cannot list all its repositories, only "
            "those of a namespace: name the namespaces in the rule's name filter (e.g. "
            "library/* for official images), or set the connection's namespaces extra",
        )
        for namespace in namespaces:
            try:
                for repository in self._listing(
                    f"/v2/namespaces/{namespace}/repositories",
                    f"the repositories of namespace {namespace}",
                ):
                    yield f"{namespace}/{repository['name']}"
            except NotFound:
                continue  # a namespace the pattern names but Docker Hub lacks

    def list_tags(self, registry: RegistryClient, repository: str) -> Iterator[str]:
        """The repository's tags from the Docker Hub API; empty if it does not exist."""
        namespace, _, name = repository.partition("/")
        if not name or "/" in name:
            return  # Docker Hub repositories are <namespace>/<name>
        try:
            for tag in self._listing(
                f"/v2/namespaces/{namespace}/repositories/{name}/tags", f"the tags of {repository}"
            ):
                yield str(tag["name"])
        except NotFound:
            return

    def ensure_namespace(self, repository: str) -> None:
        """Docker Hub creates repositories on push, in a namespace that must be <ns>/<name>."""
        if repository.count("/") != 1:
            raise NotFound(
                f"repository {repository} cannot exist on Docker Hub, whose repositories are "
                f"<namespace>/<name>: set the rule's destination_namespace (and flattening) "
                f"for endpoint {self.name}",
                endpoint=self.name,
                repository=repository,
            )

    def _listing(self, path: str, target: str) -> Iterator[Any]:
        """The ``results`` of a Hub API listing, page after page by the body's ``next``."""
        return self._hub.pages(
            path,
            target=target,
            params={"page_size": API_PAGE_SIZE},
            items=lambda body: body.get("results"),
            next_page=body_next,
        )

    def _hub_authorization(self) -> str | None:
        """A bearer token for the Docker Hub API, renewed before its 10 minutes are up."""
        if self._account is None:
            return None
        with self._token_lock:
            if self._token is None or time.monotonic() >= self._token[1]:
                self._token = (self._login(*self._account), time.monotonic() + TOKEN_RENEWAL)
            return f"Bearer {self._token[0]}"

    def _login(self, username: str, password: str) -> str:
        with self._login_api.request(
            "POST",
            "/v2/auth/token",
            target="a Docker Hub API token",
            document={"identifier": username, "secret": password},
        ) as answer:
            token = str(answer.json().get("access_token") or "")
        mask_secret(token)
        return token


def names_docker_hub(host: str | None) -> bool:
    """Whether a connection host means Docker Hub (empty, or one of its host names)."""
    value = (host or "").strip().rstrip("/").lower()
    return not value or value.split("://", 1)[-1] in HUB_HOSTS
