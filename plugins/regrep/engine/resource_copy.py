"""Copy one resource (image, index, chart, artifact) from one registry to another.

The resource is a tag at the source, or the digest of an artifact without tags, which is
pushed by digest and gets no tag at the destination either. Its manifest, with everything
it references, is made to exist at the destination
(:class:`~regrep.engine.manifest_copy.ContentCopier`: blobs before manifests, children
before indexes, the tag last), byte-exact, so the destination digest equals the source
digest. Then, with ``copy_referrers``, the signatures, SBOMs and attestations of every
copied manifest follow (:mod:`regrep.engine.referrer_copy`), also when the tag itself was
already in place, since a signature is often added after the image.

``platforms`` narrows a multi-platform index to some of its children
(:mod:`regrep.oci.platform_filter`); only then may the destination digest differ from the
source's. Legacy content the destination refuses by policy (schema1, foreign layers) is
skipped with the reason, not failed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from regrep.engine.manifest_copy import ContentCopier, ContentRefused
from regrep.engine.referrer_copy import ReferrerCopier
from regrep.engine.sizes import rate
from regrep.engine.transfer import Transfer
from regrep.oci.manifests import Descriptor, Manifest, is_digest
from regrep.oci.platform_filter import select_platforms
from regrep.oci.referrers import subjects_for
from regrep.registry.protocols import DestinationRegistry, SourceRegistry

if TYPE_CHECKING:
    from regrep.rules import PlatformFilter

logger = logging.getLogger(__name__)

Status = Literal["copied", "skipped", "unchanged"]


@dataclass(frozen=True)
class CopyResult:
    """What one copy did, for the task log, XCom and the run summary.

    ``digest`` is what the destination tag points at: the source's digest, unless a
    platform filter chose a child or rewrote the index. ``referrers`` counts the
    signatures, SBOMs and other referrer manifests copied along.
    """

    source: str
    destination: str
    status: Status
    digest: str
    bytes_copied: int
    blobs_copied: int
    blobs_mounted: int
    blobs_existing: int
    seconds: float
    message: str
    referrers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (XCom)."""
        return dataclasses.asdict(self)


def copy_resource(
    source: SourceRegistry,
    destination: DestinationRegistry,
    source_repository: str,
    reference: str,
    destination_repository: str,
    *,
    override: bool = True,
    mount_from: Sequence[str] = (),
    log: logging.Logger | None = None,
    transfer: Transfer | None = None,
    copy_referrers: bool = True,
    platforms: PlatformFilter | None = None,
    source_tags: Collection[str] | None = None,
) -> CopyResult:
    """Copy ``source_repository:reference`` to ``destination_repository:reference``.

    Unchanged when the destination already has the same digest under the reference (no
    blob read); skipped when it has another digest and ``override`` is false, when a
    ``platforms`` filter finds none of its platforms in an index, or when the destination
    refuses legacy content. ``mount_from`` names destination repositories that may hold the
    blobs; ``transfer`` says how blobs travel. ``source_tags`` is the source repository's
    tag list, or just its referrer tags (what a plan hands each resource): the referrer
    survey then asks only for referrers tags and cosign tags that exist (without it, the
    list is read once here). Registry errors propagate as typed errors.
    """
    copier = ContentCopier(
        source,
        destination,
        source_repository,
        destination_repository,
        mount_from=mount_from,
        log=log or logger,
        transfer=transfer,
    )
    run = _ResourceCopy(copier, reference)
    original = copier.fetch(reference)
    manifest = run.narrowed(original, platforms)
    if manifest is None:
        wanted = ", ".join(platforms.values if platforms else ())
        return run.finish("skipped", original.digest, f"{run.src} has none of {wanted}: skipped")
    present = run.present(manifest)
    if present is not None and present.digest != manifest.digest and not override:
        return run.finish("skipped", manifest.digest, _held_back(run, present, manifest))
    if present is None or present.digest != manifest.digest:
        try:
            status: Status = "copied"
            message = run.push(original, manifest)
        except ContentRefused as exc:
            return run.finish("skipped", manifest.digest, f"{run.src} not copied: {exc.message}")
    else:
        status, message = "unchanged", f"{run.dst} already has {manifest.digest}: unchanged"
    referrers = run.referrers(original, manifest, override, source_tags) if copy_referrers else 0
    if not referrers:
        return run.finish(status, manifest.digest, message)
    if status == "unchanged":
        message = f"{run.dst} already has {manifest.digest}"
    message += f"; copied {referrers} referrer(s) (signatures, SBOMs, attestations)"
    return run.finish("copied", manifest.digest, message, referrers)


class _ResourceCopy:
    """One copy in progress: its labels, its clock, and the steps :func:`copy_resource` takes."""

    def __init__(self, copier: ContentCopier, reference: str) -> None:
        self.copier, self.reference = copier, reference
        self.started = time.monotonic()
        self.src = _label(copier.source.name, copier.src_repo, reference)
        self.dst = _label(copier.destination.name, copier.dst_repo, reference)

    def narrowed(self, original: Manifest, platforms: PlatformFilter | None) -> Manifest | None:
        """What a platform filter leaves of ``original``; None when it has none of them."""
        if platforms is None:
            return original
        return select_platforms(original, platforms.parsed, platforms.result, self.copier.fetch)

    def present(self, manifest: Manifest) -> Descriptor | None:
        """What the destination holds under the reference the copy pushes."""
        if is_digest(self.reference) and manifest.digest != self.reference:
            # Untagged, and a platform filter made a new index: pushed by its own digest.
            self.reference = manifest.digest
            self.dst = _label(self.copier.destination.name, self.copier.dst_repo, self.reference)
        return self.copier.destination.head_manifest(self.copier.dst_repo, self.reference)

    def push(self, original: Manifest, manifest: Manifest) -> str:
        """Push ``manifest`` with what it needs; the message saying what travelled."""
        self.copier.destination.ensure_namespace(self.copier.dst_repo)
        pushed = self.copier.push(manifest, self.reference)
        blobs, seconds = self.copier.blobs, time.monotonic() - self.started
        return (
            f"copied {self.src} to {self.dst}: {blobs.copied} blobs copied, {blobs.mounted} "
            f"mounted, {blobs.existing} existing, {blobs.bytes_copied} bytes in "
            f"{seconds:.2f} s ({rate(blobs.bytes_copied, seconds)}), pushed {pushed}"
            + _derivation(original, manifest)
        )

    def referrers(
        self,
        original: Manifest,
        manifest: Manifest,
        override: bool,
        source_tags: Collection[str] | None,
    ) -> int:
        """Copy the referrers of ``manifest`` and of every manifest it contains.

        Without a referrers API, each subject would cost a probe for its referrers tag and
        one per cosign tag; ``source_tags`` answers them all, else one listing of the
        source's tags does.
        """
        copier = self.copier
        subjects = subjects_for(original.digest, manifest, copier.fetch)
        if manifest.digest not in subjects:
            copier.log.info(
                "referrers of source index %s are not copied: they refer to its digest, and "
                "the filtered index is %s",
                original.digest,
                manifest.digest,
            )
        referrer_copier = ReferrerCopier(
            copier.source,
            copier.destination,
            copier.src_repo,
            copier.dst_repo,
            override=override,
            log=copier.log,
        )
        if source_tags is None:
            source_tags = set(copier.source.list_tags(copier.src_repo))
        missing = referrer_copier.survey(subjects, source_tags=source_tags)
        return referrer_copier.apply(missing, copier)

    def finish(self, status: Status, digest: str, message: str, referrers: int = 0) -> CopyResult:
        """The result, logged (a skip as a warning)."""
        (self.copier.log.warning if status == "skipped" else self.copier.log.info)("%s", message)
        blobs = self.copier.blobs
        return CopyResult(
            source=self.src,
            destination=self.dst,
            status=status,
            digest=digest,
            bytes_copied=blobs.bytes_copied,
            blobs_copied=blobs.copied,
            blobs_mounted=blobs.mounted,
            blobs_existing=blobs.existing,
            seconds=round(time.monotonic() - self.started, 3),
            message=message,
            referrers=referrers,
        )


def _label(endpoint: str, repository: str, reference: str) -> str:
    separator = "@" if is_digest(reference) else ":"
    return f"{endpoint}/{repository}{separator}{reference}"


def _held_back(run: _ResourceCopy, present: Descriptor, manifest: Manifest) -> str:
    return (
        f"{run.dst} has {present.digest}, source {run.src} has {manifest.digest}; "
        "override is off: skipped"
    )


def _derivation(original: Manifest, manifest: Manifest) -> str:
    """How a platform filter changed what the tag points at, for the message."""
    if manifest.digest == original.digest:
        return ""
    if manifest.is_index:
        return (
            f" (an index of {len(manifest.children)} of the {len(original.children)} "
            f"entries of source index {original.digest})"
        )
    return f" (the {manifest.media_type} chosen from source index {original.digest})"
