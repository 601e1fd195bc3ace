"""Make one manifest and everything it references exist in a destination repository.

The copy never touches HTTP: it is written against :class:`RegistryClient`'s operations,
the way regclient's image copy is. The order is what registries require: every blob
before the manifest that references it, every child manifest before its index, the
manifest last, so a failure part-way never leaves a reference pointing at missing content.
Manifest bytes are pushed unchanged, so the destination digest equals the source digest.

Per blob, cheapest first: already at the destination; a cross-repository mount (same
registry, or another destination repository the caller knows holds it); else stream GET
into one PUT, verified by digest on the way through. The resource copy
(:mod:`regrep.transfer`) and the referrer copy (:mod:`regrep.referrer_sync`) share one
:class:`ContentCopier`, so their tallies add up in one result.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from regrep.oci import MANIFEST_SIZE_GUARANTEED, SCHEMA1_TYPES, Descriptor, Manifest
from regrep.registry import RegistryClient
from regrep.registry.errors import ManifestInvalid, RegistryError

DEFAULT_CONCURRENT_BLOBS = 4
_MIB = 1 << 20
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


def human_size(num_bytes: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; a negative size is unknown (schema1 layers)."""
    if num_bytes < 0:
        return "unknown size"
    if num_bytes < 1024:
        return f"{num_bytes} B"
    if num_bytes < _MIB:
        return f"{num_bytes / 1024:.1f} KiB"
    return f"{num_bytes / _MIB:.1f} MiB"


def rate(num_bytes: int, seconds: float) -> str:
    """Throughput for the task log."""
    return f"{num_bytes / _MIB / max(seconds, 1e-6):.1f} MiB/s"


class ContentCopier:
    """Copies manifests with their blobs between two repositories; thread-safe tallies.

    ``mount_from`` names other destination repositories that may hold the blobs (the
    caller knows what it replicated before); the source repository is tried first when
    both ends are one registry.
    """

    def __init__(
        self,
        source: RegistryClient,
        destination: RegistryClient,
        source_repository: str,
        destination_repository: str,
        *,
        mount_from: Sequence[str] = (),
        log: logging.Logger,
        max_concurrent_blobs: int = DEFAULT_CONCURRENT_BLOBS,
    ) -> None:
        self.source, self.destination = source, destination
        self.src_repo, self.dst_repo = source_repository, destination_repository
        self.log = log
        self.max_workers = max(1, max_concurrent_blobs)
        candidates: list[str] = []
        # A mount only works inside one registry; same host is our test for that.
        if source.host.lower() == destination.host.lower() and source_repository != (
            destination_repository
        ):
            candidates.append(source_repository)
        candidates += [r for r in mount_from if r not in (destination_repository, *candidates)]
        self.mount_candidates = tuple(candidates)
        self.lock = threading.Lock()
        self.bytes_copied = self.copied = self.mounted = self.existing = 0

    def fetch(self, reference: str) -> Manifest:
        """A manifest of the source repository, by tag or digest."""
        return self.source.get_manifest(self.src_repo, reference)

    def push(self, manifest: Manifest, reference: str) -> str:
        """Copy what ``manifest`` needs, then push it under ``reference``; its digest.

        Raises :class:`ContentRefused` when the destination turns away legacy content.
        """
        children = self.missing_children(manifest)
        self.copy_blobs(self.blobs_of([*children, manifest]))
        for child in children:
            self._put(child, child.digest)
        return self._put(manifest, reference)

    def _put(self, manifest: Manifest, reference: str) -> str:
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
        unique: dict[str, Descriptor] = {}
        for manifest in manifests:
            for blob in manifest.blobs:
                if blob.urls:
                    # Foreign layers (Windows base layers...) are fetched by clients from
                    # their urls; registries do not hold them and refuse them by policy.
                    self.log.info(
                        "skipping foreign layer %s (%s): non-distributable, served from %s",
                        blob.digest,
                        human_size(blob.size),
                        ", ".join(blob.urls),
                    )
                    continue
                unique.setdefault(blob.digest, blob)
        return list(unique.values())

    def copy_blobs(self, blobs: Sequence[Descriptor]) -> None:
        """Copy blobs a few at a time; the first failure cancels what has not started."""
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="regrep-blob") as pool:
            futures = [pool.submit(self.copy_blob, blob) for blob in blobs]
            wait(futures, return_when=FIRST_EXCEPTION)
            for future in futures:
                future.cancel()
            for future in futures:
                error = None if future.cancelled() else future.exception()
                if error is not None:
                    raise error

    def copy_blob(self, blob: Descriptor) -> None:
        """Make one blob exist at the destination, the cheapest way available."""
        started = time.monotonic()
        digest = blob.digest
        if self.destination.blob_size(self.dst_repo, digest) is not None:
            with self.lock:
                self.existing += 1
            self.log.info(
                "existing blob %s (%s) at destination, checked in %.2f s",
                digest,
                human_size(blob.size),
                time.monotonic() - started,
            )
            return
        for repository in self.mount_candidates:
            if self.destination.mount_blob(self.dst_repo, digest, repository):
                with self.lock:
                    self.mounted += 1
                self.log.info(
                    "mounted blob %s (%s) from %s in %.2f s, no bytes transferred",
                    digest,
                    human_size(blob.size),
                    repository,
                    time.monotonic() - started,
                )
                return
        with self.source.open_blob(self.src_repo, digest) as stream:
            size = stream.size if stream.size is not None else blob.size
            self.destination.push_blob(self.dst_repo, digest, size if size >= 0 else None, stream)
            copied = stream.bytes_read
        seconds = time.monotonic() - started
        with self.lock:
            self.copied += 1
            self.bytes_copied += copied
        self.log.info(
            "copied blob %s (%s) in %.2f s, %s",
            digest,
            human_size(copied),
            seconds,
            rate(copied, seconds),
        )
