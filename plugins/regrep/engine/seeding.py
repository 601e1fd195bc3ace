"""Shared layers first, once: the plan copies the blobs several resources share.

A run's copies are mapped tasks in processes of their own, running side by side. Images
built on one base layer would each upload that base at the same moment: N copies of the
same bytes into one registry, where only the first is needed. So before the copies fan
out, :func:`seed_shared_blobs` reads the manifests of the resources to copy (image
manifests and the children of indexes, as a platform filter leaves them), and copies
each blob of at least :data:`SEED_MIN_BYTES` that two or more of them reference, once,
into the destination repository of the first of them in plan order. Each copy is then
told where its shared blobs are (``digest -> repository``) and mounts them.

Smaller blobs are not worth holding the copies back for. Seeding is only a shortcut: if it
fails, the copies upload everything themselves, as they would without it.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Protocol

from regrep.engine.blob_copy import BlobCopier
from regrep.engine.sizes import human_size, rate
from regrep.engine.transfer import Transfer
from regrep.oci.manifests import Descriptor, Manifest, distributable_blobs
from regrep.oci.platform_filter import select_platforms
from regrep.registry.errors import RegistryError
from regrep.registry.protocols import DestinationRegistry, SourceRegistry

if TYPE_CHECKING:
    from regrep.rules import PlatformFilter

SEED_MIN_BYTES = 1 << 20
"""Shared blobs smaller than this are left to the copies: re-sending one costs less than
making the copies wait for it."""
SEED_WORKERS = 8
"""Manifests read at once."""


class SeedCandidate(Protocol):
    """What seeding needs of a planned resource (:class:`regrep.planning.resources.Resource`)."""

    @property
    def source_repository(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def destination_repository(self) -> str: ...


def seed_shared_blobs(
    source: SourceRegistry,
    destination: DestinationRegistry,
    planned: Sequence[SeedCandidate],
    *,
    transfer: Transfer,
    log: logging.Logger,
    mount_from: Sequence[str] = (),
    platforms: PlatformFilter | None = None,
) -> list[dict[str, str]]:
    """Copy the large blobs ``planned`` resources share; for each, where its shared blobs are.

    ``mount_from`` names destination repositories that may hold them already (those of
    unchanged resources), so a seed is a mount where it can be.
    """
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(SEED_WORKERS, thread_name_prefix="regrep-seed") as pool:
            blob_lists = list(pool.map(lambda p: _blobs_of(source, p, platforms), planned))
        counts = Counter(digest for blobs in blob_lists for digest in blobs)
        owners: dict[str, int] = {}
        for index, blobs in enumerate(blob_lists):
            for digest, blob in blobs.items():
                if counts[digest] > 1 and blob.size >= SEED_MIN_BYTES:
                    owners.setdefault(digest, index)
        seeded = 0
        for owner in sorted(set(owners.values())):
            owned = [b for d, b in blob_lists[owner].items() if owners.get(d) == owner]
            resource = planned[owner]
            copier = BlobCopier(
                source,
                destination,
                resource.source_repository,
                resource.destination_repository,
                mount_from=mount_from,
                transfer=transfer,
                log=log,
            )
            copier.copy_all(owned)
            seeded += copier.bytes_copied
    except RegistryError as error:
        log.warning("shared blobs not copied ahead (the copies will copy them): %s", error)
        return [{} for _ in planned]
    if owners:
        seconds = time.monotonic() - started
        log.info(
            "%d blob(s) shared by %d resource(s) copied once ahead: %s sent in %.2f s (%s)",
            len(owners),
            sum(1 for blobs in blob_lists if owners.keys() & blobs.keys()),
            human_size(seeded),
            seconds,
            rate(seeded, seconds),
        )
    return [
        {d: planned[owners[d]].destination_repository for d in blobs if d in owners}
        for blobs in blob_lists
    ]


def _blobs_of(
    source: SourceRegistry, resource: SeedCandidate, platforms: PlatformFilter | None
) -> dict[str, Descriptor]:
    """The distributable blobs the copy of ``resource`` will need, by digest."""

    def fetch(reference: str) -> Manifest:
        return source.get_manifest(resource.source_repository, reference)

    manifest: Manifest | None = fetch(resource.digest)
    if manifest is not None and platforms is not None:
        manifest = select_platforms(manifest, platforms.parsed, platforms.result, fetch)
    if manifest is None:
        return {}
    return _collect(manifest, fetch)


def _collect(manifest: Manifest, fetch: Callable[[str], Manifest]) -> dict[str, Descriptor]:
    """The distributable blobs of ``manifest`` and of every manifest it contains."""
    blobs = distributable_blobs([manifest])
    for child in manifest.children:
        blobs.update(_collect(fetch(child.digest), fetch))
    return blobs
