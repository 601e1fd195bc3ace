"""Copy one resource (image, index, chart, artifact) from one registry to another.

The resource is a tag at the source, or the digest of an artifact without tags, which is
pushed by digest and gets no tag at the destination either. Its manifest, with everything
it references, is made to exist at the destination (:class:`~regrep.content.ContentCopier`:
blobs before manifests, children before indexes, the tag last), byte-exact, so the
destination digest equals the source digest. Then, with ``copy_referrers``, the signatures,
SBOMs and attestations of every copied manifest follow (:mod:`regrep.referrer_sync`), also
when the tag itself was already in place, since a signature is often added after the image.

``platforms`` narrows a multi-platform index to some of its children
(:mod:`regrep.oci.platform_filter`); only then may the destination digest differ from the source's.
Legacy content the destination refuses by policy (schema1, foreign layers) is skipped
with the reason, not failed.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from regrep.blobcopy import Transfer, rate
from regrep.content import ContentCopier, ContentRefused
from regrep.oci.manifests import Manifest, is_digest
from regrep.oci.platform_filter import select_platforms
from regrep.oci.referrers import subjects_for
from regrep.referrer_sync import ReferrerSync
from regrep.registry import RegistryClient

if TYPE_CHECKING:  # the rule models (pydantic, croniter, wcmatch) stay out of copy tasks
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


def _label(client: RegistryClient, repository: str, reference: str) -> str:
    separator = "@" if is_digest(reference) else ":"
    return f"{client.name}/{repository}{separator}{reference}"


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
    transfer: Transfer | None = None,
    copy_referrers: bool = True,
    platforms: PlatformFilter | None = None,
    source_tags: Collection[str] | None = None,
) -> CopyResult:
    """Copy ``source_repository:reference`` to ``destination_repository:reference``.

    Unchanged when the destination already has the same digest under the reference (no
    blob read); skipped when it has another digest and ``override`` is false, when a
    ``platforms`` filter finds none of its platforms in an index, or when the destination
    refuses legacy content. ``mount_from`` names other destination repositories that may
    hold the blobs (the caller knows what it replicated before); ``transfer`` says how blobs
    travel (:class:`~regrep.blobcopy.Transfer`). ``source_tags`` is the source repository's
    tag list, or just the referrer tags the survey may ask about (what a plan hands each
    resource, :attr:`~regrep.planning.Resource.referrer_tags`), when the caller has it: the
    survey then asks only for referrers tags and cosign tags that exist (without it, the
    list is read once here). Registry errors propagate as the typed errors of
    :mod:`regrep.registry.errors`.
    """
    log = log or logger
    started = time.monotonic()
    src_label = _label(source, source_repository, reference)
    dst_label = _label(destination, destination_repository, reference)
    copier = ContentCopier(
        source,
        destination,
        source_repository,
        destination_repository,
        mount_from=mount_from,
        log=log,
        transfer=transfer,
    )
    blobs = copier.blobs

    def finish(status: Status, digest: str, message: str, referrers: int = 0) -> CopyResult:
        (log.warning if status == "skipped" else log.info)("%s", message)
        return CopyResult(
            source=src_label,
            destination=dst_label,
            status=status,
            digest=digest,
            bytes_copied=blobs.bytes_copied,
            blobs_copied=blobs.copied,
            blobs_mounted=blobs.mounted,
            blobs_existing=blobs.existing,
            seconds=round(time.monotonic() - started, 3),
            message=message,
            referrers=referrers,
        )

    original = copier.fetch(reference)
    manifest = original
    if platforms is not None:
        chosen = select_platforms(original, platforms.parsed, platforms.result, copier.fetch)
        if chosen is None:
            wanted = ", ".join(platforms.values)
            return finish("skipped", original.digest, f"{src_label} has none of {wanted}: skipped")
        manifest = chosen
    if is_digest(reference) and manifest.digest != reference:
        reference = manifest.digest  # untagged, and a platform filter made a new index
        dst_label = _label(destination, destination_repository, reference)
    present = destination.head_manifest(destination_repository, reference)
    if present is not None and present.digest == manifest.digest:
        status: Status = "unchanged"
        message = f"{dst_label} already has {manifest.digest}: unchanged"
    elif present is not None and not override:
        return finish(
            "skipped",
            manifest.digest,
            f"{dst_label} has {present.digest}, source {src_label} has {manifest.digest}; "
            "override is off: skipped",
        )
    else:
        destination.ensure_namespace(destination_repository)
        try:
            pushed = copier.push(manifest, reference)
        except ContentRefused as exc:
            return finish("skipped", manifest.digest, f"{src_label} not copied: {exc.message}")
        seconds = time.monotonic() - started
        status = "copied"
        message = (
            f"copied {src_label} to {dst_label}: {blobs.copied} blobs copied, {blobs.mounted} "
            f"mounted, {blobs.existing} existing, {blobs.bytes_copied} bytes in "
            f"{seconds:.2f} s ({rate(blobs.bytes_copied, seconds)}), pushed {pushed}"
            + _derivation(original, manifest)
        )
    referrers = (
        _copy_referrers(copier, original, manifest, override, source_tags) if copy_referrers else 0
    )
    if referrers:
        if status == "unchanged":
            message = f"{dst_label} already has {manifest.digest}"
        status = "copied"
        message += f"; copied {referrers} referrer(s) (signatures, SBOMs, attestations)"
    return finish(status, manifest.digest, message, referrers)


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


def _copy_referrers(
    copier: ContentCopier,
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
    subjects = subjects_for(original.digest, manifest, copier.fetch)
    if manifest.digest not in subjects:
        copier.log.info(
            "referrers of source index %s are not copied: they refer to its digest, and the "
            "filtered index is %s",
            original.digest,
            manifest.digest,
        )
    sync = ReferrerSync(
        copier.source,
        copier.destination,
        copier.src_repo,
        copier.dst_repo,
        override=override,
        log=copier.log,
    )
    if source_tags is None:
        source_tags = set(copier.source.list_tags(copier.src_repo))
    return sync.apply(sync.survey(subjects, source_tags=source_tags), copier)
