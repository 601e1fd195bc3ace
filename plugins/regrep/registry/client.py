"""The OCI distribution client: one narrow method per registry operation.

Everything above this module (planning, the copy engine, operators) speaks manifests,
descriptors and typed errors; HTTP, auth challenges, pagination and redirects stay here.
Endpoints follow the OCI distribution-spec ("API" table, end-1 ... end-13).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Self, Unpack
from urllib.parse import urlsplit

from regrep.oci.manifests import (
    OCI_INDEX,
    Descriptor,
    Manifest,
)
from regrep.registry.auth import pull_scopes
from regrep.registry.blob_uploads import BlobUploads
from regrep.registry.blobstream import BlobStream
from regrep.registry.cancellation import Cancellation
from regrep.registry.errors import (
    Access,
    Forbidden,
    ManifestInvalid,
    NotFound,
    Operation,
    Unauthorized,
)
from regrep.registry.exchange import Exchange, Settings
from regrep.registry.manifest_requests import ManifestRequests
from regrep.registry.provider import DISTRIBUTION, Provider
from regrep.registry.retry import RetryPolicy
from regrep.registry.upload import BlobUpload

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 1000  # distribution's default catalog.maxentries; others clamp
CATALOG_SCOPE = "registry:catalog:*"


class RegistryClient:
    """A client for one registry endpoint; safe to share between threads."""

    def __init__(self, exchange: Exchange, provider: Provider = DISTRIBUTION) -> None:
        """A client over ``exchange`` (the endpoint's transport, credentials and stop),
        with ``provider``'s differences from the distribution API."""
        self.exchange, self.provider = exchange, provider
        self.url, self.name = exchange.url, exchange.name
        self.host = urlsplit(self.url).netloc
        self._transport = exchange.transport
        self._uploads = BlobUploads(exchange)
        self._manifests = ManifestRequests(exchange)
        self._no_referrers_api = False  # set once the registry shows it lacks the API

    @classmethod
    def connect(
        cls, url: str, provider: Provider = DISTRIBUTION, **settings: Unpack[Settings]
    ) -> RegistryClient:
        """A client for the registry at ``url``, reached with ``settings``.

        ``credentials`` fetches short-lived registry credentials from a vendor API, instead
        of ``username``/``password`` (see :mod:`regrep.registry.credentials`). ``policy``
        and ``stop`` govern every retry and wait of the client: a stopped task's client
        stops waiting and breaks off its blob transfers.
        """
        return cls(Exchange.connect(url, **settings), provider)

    @property
    def stop(self) -> Cancellation:
        """The stop every wait and transfer of this client ends on."""
        return self._transport.stop

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of every operation of this client."""
        return self._transport.policy

    def __repr__(self) -> str:
        settings = "".join(f", {key}={value!r}" for key, value in self.provider.settings.items())
        return (
            f"RegistryClient({self.url!r}, name={self.name!r}, "
            f"provider={self.provider.name!r}{settings})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()

    # -- discovery ---------------------------------------------------------------------

    def ping(self) -> None:
        """Check the endpoint speaks the v2 API and accepts our credentials (end-1), and
        whatever else the provider checks."""
        op = Operation("GET", "/v2/", "pull", None, "the registry API (/v2/)")
        self.exchange.send(op, (), ok=(200,)).close()
        if self.provider.check is not None:
            self.provider.check(self)

    def list_repositories(
        self, *, page_size: int = DEFAULT_PAGE_SIZE, name_pattern: str = ""
    ) -> Iterator[str]:
        """Every repository: the catalog, or the provider's listing.

        ``name_pattern`` is the rule's name filter, a hint for registries that cannot list
        everything (Docker Hub, GHCR list per namespace): the catalog ignores it, and the
        caller filters what any client returns.
        """
        if self.provider.list_repositories is not None:
            return self.provider.list_repositories(self, name_pattern, page_size)
        return self.catalog(page_size=page_size)

    def catalog(
        self,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        path: str = "/v2/_catalog",
        target: str = "the catalog",
    ) -> Iterator[str]:
        """The distribution catalog at ``path`` (named ``target`` in errors), page by page."""
        op = Operation("GET", path, "list", None, target)
        for item in self.exchange.paginate(op, (CATALOG_SCOPE,), "repositories", page_size):
            yield str(item)

    def list_tags(self, repository: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[str]:
        """Every tag of ``repository``; empty if the repository does not exist."""
        if self.provider.list_tags is not None:
            return self.provider.list_tags(self, repository)
        return self.distribution_tags(repository, page_size=page_size)

    def distribution_tags(
        self, repository: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[str]:
        """The distribution API's tag list (end-8a/8b); empty if the repository is absent."""
        path = f"/v2/{repository}/tags/list"
        op = Operation("GET", path, "pull", repository, f"repository {repository}")
        try:
            for item in self.exchange.paginate(op, pull_scopes(repository), "tags", page_size):
                yield str(item)
        except NotFound:
            return

    # -- manifests ---------------------------------------------------------------------

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor without its body (end-3); None if absent.

        Also None when the registry refuses and the provider says a refusal there means
        absence (a Harbor project not created yet).
        """
        try:
            return self._manifests.head(repository, reference)
        except (Unauthorized, Forbidden):
            absent = self.provider.absent_when_refused
            if absent is not None and absent(repository):
                return None
            raise

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """Fetch a manifest by tag or digest (end-3), verifying its bytes against its digest."""
        return self._manifests.get(repository, reference)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the manifest's exact bytes under a tag or digest (end-7); its digest."""
        return self._manifests.put(repository, reference, manifest)

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest, and with it every tag pointing at it (end-9)."""
        if self.provider.delete_manifest is not None:
            self.provider.delete_manifest(repository, digest)
        else:
            self._manifests.delete(repository, digest)

    def list_referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """The manifests whose ``subject`` is ``digest`` (end-12a), following pagination.

        None when the registry has no referrers API: a registry that has it never answers
        404 for an existing repository (distribution-spec "Listing Referrers"), so a 404
        sends the caller to the referrers tag schema. A registry without the API is asked
        once per client, not once per manifest.
        """
        if self._no_referrers_api:
            return None
        path = f"/v2/{repository}/referrers/{digest}"
        op = Operation("GET", path, "pull", repository, f"referrers of {repository}@{digest}")
        headers = {"Accept": OCI_INDEX}
        try:
            entries = list(
                self.exchange.paginate(op, pull_scopes(repository), "manifests", None, headers)
            )
        except NotFound as exc:
            # A bare 404 (no OCI error body) is the router not knowing the endpoint. An
            # OCI error such as NAME_UNKNOWN is an API answering about a repository that
            # does not exist yet, so nothing is remembered from it.
            if not exc.codes:
                self._no_referrers_api = True
            return None
        try:
            return [Descriptor.from_json(e, f"referrer {i}") for i, e in enumerate(entries)]
        except ValueError as exc:
            raise ManifestInvalid(
                f"endpoint {self.name} listed the {op.target} wrongly: {exc}",
                endpoint=self.name,
                repository=repository,
            ) from None

    def artifact_labels(self, repository: str, digest: str) -> set[str] | None:
        """The labels an artifact carries, or None when the registry has no labels.

        Labels are Harbor's; a plain registry has none, which is different from an artifact
        without labels.
        """
        labels = self.provider.artifact_labels
        return None if labels is None else labels(repository, digest)

    def untagged_digests(self, repository: str) -> list[str]:
        """The digests of the repository's artifacts that have no tag.

        The distribution API lists tags only: a plain registry cannot say which manifests
        were pushed by digest alone, so this is empty unless the provider can (Harbor's
        artifact listing shows untagged artifacts, as its replication sees them).
        """
        untagged = self.provider.untagged_digests
        return [] if untagged is None else untagged(repository)

    # -- blobs -------------------------------------------------------------------------

    def blob_size(self, repository: str, digest: str) -> int | None:
        """Size of a blob in ``repository`` (end-2 HEAD); None if it is not there.

        -1 when the blob exists but the registry sent no Content-Length.
        """
        op = self._blob_op("HEAD", repository, digest, "pull")
        with self.exchange.send(op, pull_scopes(repository), ok=(200, 404)) as response:
            if response.status_code == 404:
                return None
            length = response.headers.get("Content-Length", "")
        return int(length) if length.isdigit() else -1

    @contextmanager
    def open_blob(self, repository: str, digest: str) -> Iterator[BlobStream]:
        """Stream a blob (end-2 GET, redirects followed without our credentials)."""
        op = self._blob_op("GET", repository, digest, "pull")
        # identity: the digest covers the stored bytes, not a re-encoding of them.
        response = self.exchange.send(
            op, pull_scopes(repository), headers={"Accept-Encoding": "identity"}, stream=True
        )
        with response:
            stream = BlobStream(response, digest=digest, repository=repository, endpoint=self.name)
            # A stop breaks off a read that waits for a slow source to send a whole chunk.
            with self.stop.aborting(stream.abort):
                yield stream

    def start_upload(self, repository: str, digest: str) -> BlobUpload:
        """Open an upload session for ``digest`` in ``repository`` (end-4a POST)."""
        return self._uploads.start(repository, digest)

    def try_mount(self, repository: str, digest: str, from_repository: str) -> BlobUpload | None:
        """Mount ``digest`` from ``from_repository`` (end-11), else open its upload.

        None when the registry mounted it (201). When it did not (202), the session it
        opened anyway is returned for the upload, so a missed mount costs no request; a
        refused mount (401, 403, 404) falls back to :meth:`start_upload`.
        """
        return self._uploads.try_mount(repository, digest, from_repository)

    def send_blob(
        self,
        upload: BlobUpload,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        chunk_size: int | None = None,
    ) -> None:
        """Send a blob's bytes into ``upload`` and complete it with ``?digest=`` (end-6).

        By default ONE streamed PUT, never held in memory: with ``Content-Length`` when
        ``size`` is known, else with chunked transfer encoding. With ``chunk_size`` the
        bytes go as PATCHes of that size (end-5, ``Content-Range``), each held until the
        registry has it; an interrupted one resumes from what the registry reports it
        holds, and a PUT without body completes the upload. The registry verifies the
        digest (DIGEST_INVALID -> DigestMismatch). On failure or a stop the session is
        cancelled, so nothing is left half-written.
        """
        self._uploads.send(upload, chunks, size=size, chunk_size=chunk_size)

    def push_blob(
        self,
        repository: str,
        digest: str,
        size: int | None,
        chunks: Iterable[bytes],
        *,
        chunk_size: int | None = None,
    ) -> None:
        """Upload a blob into a new session (:meth:`start_upload`, :meth:`send_blob`)."""
        upload = self.start_upload(repository, digest)
        self.send_blob(upload, chunks, size=size, chunk_size=chunk_size)

    def cancel_upload(self, upload: BlobUpload, url: str | None = None) -> None:
        """DELETE an upload session (end-10), best effort: it only frees server state."""
        self._uploads.cancel(upload, url)

    def ensure_namespace(self, repository: str) -> None:
        """Create what must exist before pushing; plain distribution needs nothing."""
        if self.provider.ensure_namespace is not None:
            self.provider.ensure_namespace(repository)

    # -- plumbing ----------------------------------------------------------------------

    def _blob_op(self, method: str, repository: str, digest: str, action: Access) -> Operation:
        path = f"/v2/{repository}/blobs/{digest}"
        return Operation(method, path, action, repository, f"blob {digest} in {repository}")
