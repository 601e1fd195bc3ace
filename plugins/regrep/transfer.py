"""Copy one resource (image, index, chart, artifact) from one registry to another.

The copy never touches HTTP: it is written against :class:`RegistryClient`'s operations,
the way regclient's image copy is. The order is what registries require: every blob
before the manifest that references it, every child manifest before its index, the tag
last, so a failure part-way never leaves a tag pointing at missing content. The manifest
bytes are pushed unchanged, so the destination digest equals the source digest.

Per blob, cheapest first: already at the destination; a cross-repository mount (same
registry, or another destination repository the caller knows holds it); else stream GET
into one PUT, verified by digest on the way through.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Literal

from regrep.oci import Descriptor, Manifest, is_digest
from regrep.registry import RegistryClient

logger = logging.getLogger(__name__)

DEFAULT_CONCURRENT_BLOBS = 4
_MIB = 1 << 20


@dataclass(frozen=True)
class CopyResult:
    """What one copy did, for the task log, XCom and the run summary."""

    source: str
    destination: str
    status: Literal["copied", "skipped", "unchanged"]
    digest: str
    bytes_copied: int
    blobs_copied: int
    blobs_mounted: int
    blobs_existing: int
    seconds: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (XCom)."""
        return dataclasses.asdict(self)


def _label(client: RegistryClient, repository: str, reference: str) -> str:
    separator = "@" if is_digest(reference) else ":"
    return f"{client.name}/{repository}{separator}{reference}"


def _size(num_bytes: int) -> str:
    if num_bytes < 0:
        return "unknown size"
    if num_bytes < 1024:
        return f"{num_bytes} B"
    if num_bytes < _MIB:
        return f"{num_bytes / 1024:.1f} KiB"
    return f"{num_bytes / _MIB:.1f} MiB"


def _rate(num_bytes: int, seconds: float) -> str:
    return f"{num_bytes / _MIB / max(seconds, 1e-6):.1f} MiB/s"


class _Copy:
    """The state of one copy_resource call: clients, repositories and thread-safe tallies."""

    def __init__(
        self,
        source: RegistryClient,
        destination: RegistryClient,
        source_repository: str,
        destination_repository: str,
        mount_from: Sequence[str],
        log: logging.Logger,
    ) -> None:
        self.source, self.destination = source, destination
        self.src_repo, self.dst_repo = source_repository, destination_repository
        self.log = log
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

    def missing_children(self, manifest: Manifest) -> list[Manifest]:
        """Child manifests (depth first) the destination lacks, in the order to push them."""
        missing: list[Manifest] = []
        for child in manifest.children:
            if self.destination.head_manifest(self.dst_repo, child.digest) is not None:
                self.log.info(
                    "manifest %s (%s) already at destination", child.digest, child.platform
                )
                continue
            fetched = self.source.get_manifest(self.src_repo, child.digest)
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
                        _size(blob.size),
                        ", ".join(blob.urls),
                    )
                    continue
                unique.setdefault(blob.digest, blob)
        return list(unique.values())

    def copy_blobs(self, blobs: Sequence[Descriptor], max_workers: int) -> None:
        """Copy blobs a few at a time; the first failure cancels what has not started."""
        with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="regrep-blob") as pool:
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
                _size(blob.size),
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
                    _size(blob.size),
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
            _size(copied),
            seconds,
            _rate(copied, seconds),
        )


def copy_resource(
    source: RegistryClient,
    destination: RegistryClient,
    source_repository: str,
    reference: str,
    destination_repository: str,
    *,
    override: bool = True,
    mount_from: Sequence[str] = (),
    log: logging.Logger | None = None,
    max_concurrent_blobs: int = DEFAULT_CONCURRENT_BLOBS,
) -> CopyResult:
    """Copy ``source_repository:reference`` to ``destination_repository:reference``.

    Unchanged when the destination already has the same digest under the reference (one
    manifest GET and one HEAD, no blob read); skipped when it has another digest and
    ``override`` is false. ``mount_from`` names other destination repositories that may
    hold the blobs (the caller knows what it replicated before). Registry errors propagate
    as the typed errors of :mod:`regrep.registry.errors`.
    """
    log = log or logger
    started = time.monotonic()
    src_label = _label(source, source_repository, reference)
    dst_label = _label(destination, destination_repository, reference)

    def result(
        status: Literal["copied", "skipped", "unchanged"],
        digest: str,
        message: str,
        copy: _Copy | None = None,
    ) -> CopyResult:
        return CopyResult(
            source=src_label,
            destination=dst_label,
            status=status,
            digest=digest,
            bytes_copied=copy.bytes_copied if copy else 0,
            blobs_copied=copy.copied if copy else 0,
            blobs_mounted=copy.mounted if copy else 0,
            blobs_existing=copy.existing if copy else 0,
            seconds=round(time.monotonic() - started, 3),
            message=message,
        )

    manifest = source.get_manifest(source_repository, reference)
    present = destination.head_manifest(destination_repository, reference)
    if present is not None and present.digest == manifest.digest:
        message = f"{dst_label} already has {manifest.digest}: unchanged"
        log.info("%s", message)
        return result("unchanged", manifest.digest, message)
    if present is not None and not override:
        message = (
            f"{dst_label} has {present.digest}, source {src_label} has {manifest.digest}; "
            "override is off: skipped"
        )
        log.warning("%s", message)
        return result("skipped", manifest.digest, message)

    copy = _Copy(source, destination, source_repository, destination_repository, mount_from, log)
    destination.ensure_namespace(destination_repository)
    children = copy.missing_children(manifest)
    copy.copy_blobs(copy.blobs_of([*children, manifest]), max(1, max_concurrent_blobs))
    for child in children:
        destination.put_manifest(destination_repository, child.digest, child)
    pushed = destination.put_manifest(destination_repository, reference, manifest)
    seconds = time.monotonic() - started
    message = (
        f"copied {src_label} to {dst_label}: {copy.copied} blobs copied, {copy.mounted} "
        f"mounted, {copy.existing} existing, {copy.bytes_copied} bytes in {seconds:.2f} s "
        f"({_rate(copy.bytes_copied, seconds)}), pushed {pushed}"
    )
    log.info("%s", message)
    return result("copied", pushed, message, copy)
