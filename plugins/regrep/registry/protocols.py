"""The registry operations planning and the copy engine use, and nothing more.

Planning and the engine are typed against these protocols, never against a concrete client,
the way regclient's copy is written against its narrow scheme interface. A replication
*source* only needs to be read: :class:`SourceRegistry`. A *destination* is also read (what
is there already, its referrers) and written: :class:`DestinationRegistry`. The OCI
distribution client (:class:`~regrep.registry.client.RegistryClient`) is both; a classic
Helm chart repository (:mod:`regrep.vendors.helm_charts`) is a source only, so the type
checker refuses to hand it to a push.

Both carry the :class:`~regrep.registry.cancellation.Cancellation` they were built with:
the engine checks it between steps, and the clients end every wait and transfer on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol, Self, runtime_checkable

from regrep.oci.manifests import Descriptor, Manifest
from regrep.registry.blobstream import BlobStream
from regrep.registry.cancellation import Cancellation
from regrep.registry.retry import RetryPolicy
from regrep.registry.upload import BlobUpload


class SourceRegistry(Protocol):
    """What replicating *from* an endpoint reads: listings, manifests, referrers, blobs."""

    @property
    def name(self) -> str:
        """The endpoint's name in messages (the Airflow connection id)."""

    @property
    def url(self) -> str:
        """``scheme://host[:port][/path]`` of the endpoint."""

    @property
    def host(self) -> str:
        """``host:port``: two endpoints on one host can mount each other's blobs."""

    @property
    def stop(self) -> Cancellation:
        """The stop this client's waits and transfers end on."""

    @property
    def policy(self) -> RetryPolicy:
        """The retry policy of this client's operations (and of restarts of them)."""

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...

    def close(self) -> None:
        """Release pooled connections."""

    def ping(self) -> None:
        """Check the endpoint answers and accepts the credentials; typed errors if not."""

    def list_repositories(self, *, name_pattern: str = "") -> Iterator[str]:
        """Every repository; ``name_pattern`` is a hint for registries listed per namespace."""

    def list_tags(self, repository: str) -> Iterator[str]:
        """Every tag of ``repository``; empty when it does not exist."""

    def untagged_digests(self, repository: str) -> list[str]:
        """The digests of the repository's artifacts without a tag ([] if it cannot say)."""

    def artifact_labels(self, repository: str, digest: str) -> set[str] | None:
        """The artifact's labels; None when the registry has no labels at all."""

    def head_manifest(self, repository: str, reference: str) -> Descriptor | None:
        """The manifest's descriptor, None when it is absent."""

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest, its bytes verified against its digest; NotFound if absent."""

    def list_referrers(self, repository: str, digest: str) -> list[Descriptor] | None:
        """The manifests whose subject is ``digest``; None without a referrers API."""

    def open_blob(self, repository: str, digest: str) -> AbstractContextManager[BlobStream]:
        """A blob's bytes, streamed and verified against its digest."""


@runtime_checkable
class DestinationRegistry(SourceRegistry, Protocol):
    """What replicating *to* an endpoint also needs: blob placement and manifest pushes."""

    def blob_size(self, repository: str, digest: str) -> int | None:
        """The blob's size in ``repository`` (-1 unknown), None when it is not there."""

    def start_upload(self, repository: str, digest: str) -> BlobUpload:
        """Open an upload session for ``digest``."""

    def try_mount(self, repository: str, digest: str, from_repository: str) -> BlobUpload | None:
        """Mount ``digest`` from another repository (None), else the session to upload into."""

    def send_blob(
        self,
        upload: BlobUpload,
        chunks: Iterable[bytes],
        *,
        size: int | None,
        chunk_size: int | None = None,
    ) -> None:
        """Send the bytes into ``upload`` and complete it; the session is cancelled on failure."""

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        """Push the manifest's exact bytes under a tag or digest; its digest."""

    def delete_manifest(self, repository: str, digest: str) -> None:
        """Delete a manifest and every tag pointing at it."""

    def ensure_namespace(self, repository: str) -> None:
        """Create what must exist before a push into ``repository`` (a Harbor project...)."""
