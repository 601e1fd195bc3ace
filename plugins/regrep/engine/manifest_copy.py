"""Make one manifest and everything it references exist in a destination repository.

The copy never touches HTTP: it is written against the registry protocols' operations,
the way regclient's image copy is. The order is what registries require: every blob
before the manifest that references it, every child manifest before its index, the
manifest last, so a failure part-way never leaves a reference pointing at missing content.
Manifest bytes are pushed unchanged, so the destination digest equals the source digest.

Blobs travel the cheapest way available (:mod:`regrep.engine.blob_copy`: existing, mounted, or
streamed). The resource copy (:mod:`regrep.engine.resource_copy`) and the referrer copy
(:mod:`regrep.engine.referrer_copy`) share one :class:`ContentCopier`, so their tallies add up in
one result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from regrep.engine.blob_copy import BlobCopier
from regrep.engine.sizes import human_size
from regrep.engine.transfer import Transfer
from regrep.oci.manifests import (
    MANIFEST_SIZE_GUARANTEED,
    SCHEMA1_TYPES,
    Descriptor,
    Manifest,
    distributable_blobs,
)
from regrep.registry.errors import ManifestInvalid, RegistryError
from regrep.registry.protocols import DestinationRegistry, SourceRegistry
from regrep.registry.retry import retry

_BLOB_UNKNOWN = "MANIFEST_BLOB_UNKNOWN"
_RELINK_PAUSES = (0.2, 0.6, 1.8)  # seconds before each retry of a manifest push (see _put)
# Statuses that mean something else than "this content is refused" (auth, absent, throttled).
_NOT_A_REFUSAL = frozenset({401, 403, 404, 429, 502, 503, 504})


class ContentRefused(ManifestInvalid):
    """The destination refused a manifest of a kind registries may legitimately refuse.

    Schema1 manifests and manifests with foreign layers are legacy content many
    registries turn away by configuration; the message says which and how to allow it.
    """


def refusal_reason(manifest: Manifest) -> str | None:
    """Why a registry might refuse ``manifest`` by policy; None for ordinary content."""
    if manifest.media_type in SCHEMA1_TYPES:
        return (
            "it is a schema1 manifest (Docker image manifest v2 schema 1, deprecated), which "
            "the destination does not accept: push the image as schema 2 at the source, or "
            "enable schema1 at the destination (distribution: compatibility.schema1.enabled)"
        )
    urls = sorted({url for blob in manifest.blobs for url in blob.urls})
    if urls:
        return (
            f"it has foreign (non-distributable) layers served from {', '.join(urls)}, which "
            "the destination does not accept: allow those URLs at the destination "
            "(distribution: validation.manifests.urls.allow)"
        )
    return None


class ContentCopier:
    """Copies manifests with their blobs between two repositories.

    ``mount_from`` names other destination repositories that may hold the blobs (the
    caller knows what it replicated before); ``transfer`` says how blobs travel. The
    tallies are those of :attr:`blobs`.
    """

    def __init__(
        self,
        source: SourceRegistry,
        destination: DestinationRegistry,
        source_repository: str,
        destination_repository: str,
        *,
        mount_from: Sequence[str] = (),
        log: logging.Logger,
        transfer: Transfer | None = None,
    ) -> None:
        self.source, self.destination = source, destination
        self.src_repo, self.dst_repo = source_repository, destination_repository
        self.log = log
        self.blobs = BlobCopier(
            source,
            destination,
            source_repository,
            destination_repository,
            mount_from=mount_from,
            transfer=transfer or Transfer(),
            log=log,
        )

    def fetch(self, reference: str) -> Manifest:
        """A manifest of the source repository, by tag or digest."""
        return self.source.get_manifest(self.src_repo, reference)

    def push(self, manifest: Manifest, reference: str) -> str:
        """Copy what ``manifest`` needs, then push it under ``reference``; its digest.

        Raises :class:`ContentRefused` when the destination turns away legacy content.
        """
        children = self.missing_children(manifest)
        self.blobs.copy_all(self.blobs_of([*children, manifest]))
        for child in children:
            self._put(child, child.digest)
        return self._put(manifest, reference)

    def _put(self, manifest: Manifest, reference: str) -> str:
        """Push ``manifest``; again, a few times, if the registry lost track of a blob.

        distribution rewrites a repository's link to a blob in place (truncate, then write)
        whenever a copy uploads or mounts the blob there, so a manifest it checks meanwhile
        for a concurrent copy into the same repository can find the link empty and answer
        MANIFEST_BLOB_UNKNOWN. Copies of many tags of one repository (neighbouring batches of
        a large run) keep re-linking their shared blobs for a while, so after a growing pause
        the blobs are looked up afresh (and copied again if really missing) and the push is
        tried again, :data:`_RELINK_PAUSES` times at most: a fixed schedule, since the race
        settles within a second or two, waited on the task's stop like every retry.
        """

        def relink_in(failure: Exception, attempt: int) -> float | None:
            if not isinstance(failure, RegistryError) or _BLOB_UNKNOWN not in failure.codes:
                return None
            return _RELINK_PAUSES[attempt] if attempt < len(_RELINK_PAUSES) else None

        def report(failure: Exception, attempt: int, pause: float) -> None:
            self.log.warning(
                "%s: a blob of %s was unknown right after it was placed (a concurrent "
                "copy into the repository?); checking the blobs again and retrying in %.1f s",
                failure,
                manifest.digest,
                pause,
            )

        first = True

        def put() -> str:
            nonlocal first
            if not first:
                self._copy_missing(manifest)
            first = False
            return self._put_once(manifest, reference)

        return retry(put, retry_in=relink_in, report=report, stop=self.blobs.stop)

    def _copy_missing(self, manifest: Manifest) -> None:
        """Copy again the blobs of ``manifest`` the destination repository lacks now."""
        blobs = self.blobs_of([manifest])
        missing = [b for b in blobs if self.destination.blob_size(self.dst_repo, b.digest) is None]
        self.blobs.copy_all(missing, anew=True)

    def _put_once(self, manifest: Manifest, reference: str) -> str:
        try:
            return self.destination.put_manifest(self.dst_repo, reference, manifest)
        except RegistryError as exc:
            reason = refusal_reason(manifest)
            # distribution 2.8 answers 500 to both kinds; others 400 or 415. Auth, missing
            # repositories, throttling and oversized manifests keep their own errors.
            if (
                reason is None
                or exc.status is None
                or exc.status < 400
                or exc.status in _NOT_A_REFUSAL
                or len(manifest.raw) > MANIFEST_SIZE_GUARANTEED
            ):
                raise
            raise ContentRefused(
                f"{exc.message}: {reason}",
                status=exc.status,
                endpoint=exc.endpoint,
                repository=exc.repository,
                codes=exc.codes,
            ) from exc

    def missing_children(self, manifest: Manifest) -> list[Manifest]:
        """Child manifests (depth first) the destination lacks, in the order to push them."""
        missing: list[Manifest] = []
        for child in manifest.children:
            if self.destination.head_manifest(self.dst_repo, child.digest) is not None:
                self.log.info(
                    "manifest %s (%s) already at destination", child.digest, child.platform
                )
                continue
            fetched = self.fetch(child.digest)
            missing += self.missing_children(fetched)
            missing.append(fetched)
        return missing

    def blobs_of(self, manifests: Sequence[Manifest]) -> list[Descriptor]:
        """Every distributable blob of ``manifests``, each digest once."""
        foreign = {blob.digest: blob for m in manifests for blob in m.blobs if blob.urls}
        for blob in foreign.values():
            self.log.info(
                "skipping foreign layer %s (%s): non-distributable, served from %s",
                blob.digest,
                human_size(blob.size),
                ", ".join(blob.urls),
            )
        return list(distributable_blobs(manifests).values())
